#!/usr/bin/env python3
"""Times `llm_call` runs on the Python reference against the fake provider, for the `llm`
benchmark suite (docs/benchmarks/llm.md).

Starts the fake (`agw-fake-provider PORT`) and the reference gateway
(`abstractgateway serve`, LMSTUDIO_BASE_URL = the fake) on loopback with their own data dir
and HOME, writes the suite's bundle (`agw-bench --suite llm-bundle --out FLOWS_DIR`), then
times 10 warm-up and N runs of `bench-llm` (default flow `chat`: llm_call lmstudio/fake-chat,
prompt "hi"): from sending POST /runs/start until GET /runs/{id} reports `completed`
(polled every 2 ms, so each sample includes up to one poll), and the same chat request
POSTed straight to the fake. Prints JSON. Only the standard library is used.

    python3 host/agw-bench/reference_llm.py --bench BIN_DIR [--runs 50]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

TOKEN = "bench-token-0123456789abcdef"


def call(url, body=None, token=TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=60) as r:
        return json.load(r)


def stats(samples):
    s = sorted(samples)
    at = lambda q: round(s[round((len(s) - 1) * q)] * 1e3, 3)
    return {"n": len(s), "median_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99),
            "min_ms": at(0.0), "max_ms": at(1.0)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True, help="dir holding agw-bench and agw-fake-provider (target/release)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--port", type=int, default=18760)
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="agw-ref-llm-")
    flows, data, home = (os.path.join(root, d) for d in ("flows", "data", "home"))
    for d in (flows, data, home):
        os.makedirs(d)
    subprocess.run([os.path.join(a.bench, "agw-bench"), "--suite", "llm-bundle", "--out", flows], check=True,
                   stdout=subprocess.DEVNULL)
    fake_port, gw_port = a.port, a.port + 1
    fake_url = f"http://127.0.0.1:{fake_port}/v1"
    procs = [subprocess.Popen([os.path.join(a.bench, "agw-fake-provider"), str(fake_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "*", "no_proxy": "*", "LMSTUDIO_BASE_URL": fake_url,
           "ABSTRACTGATEWAY_AUTH_TOKEN": TOKEN, "ABSTRACTGATEWAY_DATA_DIR": data,
           "ABSTRACTGATEWAY_FLOWS_DIR": flows}
    log = open(os.path.join(root, "gw.log"), "w")
    procs.append(subprocess.Popen(["/work/venv-ref/bin/abstractgateway", "serve", "--host", "127.0.0.1",
                                   "--port", str(gw_port), "--no-tray"], env=env, stdout=log, stderr=log))
    base = f"http://127.0.0.1:{gw_port}/api/gateway"
    try:
        for _ in range(240):
            try:
                call(f"{base}/bundles")
                break
            except Exception:
                time.sleep(0.5)
        walls = []
        for i in range(a.runs + 10):
            started = time.perf_counter()
            run_id = call(f"{base}/runs/start", {"bundle_id": "bench-llm"})["run_id"]
            while True:
                view = call(f"{base}/runs/{run_id}")
                if view["status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.002)
            elapsed = time.perf_counter() - started
            assert view["status"] == "completed" and "Fake answer to" in json.dumps(view.get("output")), view
            if i >= 10:
                walls.append(elapsed)
        body = {"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]}
        alone = []
        for i in range(a.runs + 10):
            started = time.perf_counter()
            call(f"{fake_url}/chat/completions", body, token=None)
            if i >= 10:
                alone.append(time.perf_counter() - started)
        print(json.dumps({"run_wall_polled_2ms": stats(walls), "fake_alone": stats(alone),
                          "note": "run_wall polled every 2 ms (urllib, new connection per request)"}, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
