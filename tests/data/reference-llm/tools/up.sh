#!/bin/bash
# up.sh NAME BASEPORT [extra env...]: starts fake(BASE), proxy(BASE+1), gateway(BASE+2) in /tmp/rec/NAME
set -e
NAME=$1; B=$2; shift 2
D=/tmp/rec/$NAME; rm -rf $D; mkdir -p $D/home $D/data
FP=$B; PP=$((B+1)); GP=$((B+2))
/work/target-rec/debug/agw-fake-provider $FP > $D/fake.out 2>&1 & echo $! > $D/fake.pid
EXTRA_MODELS=${EXTRA_MODELS-fake-500,fake-401,fake-429,fake-truncated,fake-slow-250,gpt-4o-mini,qwen/qwen3.6-35b-a3b} python3 /tmp/rec/proxy.py $PP $FP $D/requests.jsonl > $D/proxy.out 2>&1 & echo $! > $D/proxy.pid
P=http://127.0.0.1:$PP
if [ -n "$NO_CAPS" ]; then echo '{}' > $D/home/abstractcore.json; else
cat > $D/home/abstractcore.json <<JSON
{"capability_defaults": {"version": 1, "routes": {
 "input.text": {"provider": "openai", "model": "fake-chat"},
 "output.text": {"provider": "openai", "model": "fake-chat"},
 "output.image": {"provider": "openai", "model": "fake-image"},
 "output.voice": {"provider": "openai", "model": "fake-tts"},
 "input.voice": {"provider": "openai", "model": "fake-stt"},
 "embedding.text": {"provider": "openai", "model": "fake-embed"}}}}
JSON
fi
sleep 0.5
env -i PATH=/usr/bin:/bin HOME=$D/home LANG=C.UTF-8 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  NO_PROXY='*' no_proxy='*' \
  ${PROVIDER_ENV-OPENAI_BASE_URL=$P/openai/v1 OPENAI_API_KEY=sk-fake-key LMSTUDIO_BASE_URL=$P/lmstudio/v1 OPENAI_COMPATIBLE_BASE_URL=$P/openai-compatible/v1 VLLM_BASE_URL=$P/vllm/v1} \
  ABSTRACTCORE_CONFIG_FILE=$D/home/abstractcore.json \
  ABSTRACTGATEWAY_AUTH_TOKEN=rec-token-0123456789abcdef ABSTRACTGATEWAY_DATA_DIR=$D/data ABSTRACTGATEWAY_FLOWS_DIR=/tmp/rec/flows \
  "$@" /work/venv-ref/bin/abstractgateway serve --host 127.0.0.1 --port $GP --no-tray > $D/gw.log 2>&1 &
echo $! > $D/gw.pid
for i in $(seq 1 120); do curl -s -o /dev/null -H 'Authorization: Bearer rec-token-0123456789abcdef' http://127.0.0.1:$GP/api/gateway/bundles && break; sleep 1; done
echo "up $NAME gw=$GP fake=$FP proxy=$PP"
