"""disc.py NAME GWPORT OUTFILE: GET every discovery route, with status, body and the provider requests it caused."""
import json, sys, time
sys.path.insert(0, "/tmp/rec")
import gw
ROUTES = [
    "/discovery/providers",
    "/discovery/providers/lmstudio/models",
    "/discovery/providers/openai/models",
    "/discovery/providers/openai-compatible/models",
    "/discovery/providers/vllm/models",
    "/discovery/providers/ollama/models",
    "/discovery/providers/nope/models",
    "/discovery/providers/lmstudio/models?capability_route=input.image",
    "/discovery/models/capabilities?model_name=fake-chat&provider=lmstudio",
    "/discovery/models/capabilities?model_name=gpt-4o-mini&provider=openai",
    "/discovery/capabilities",
    "/discovery/tools",
]
name, port, outfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
for r in ROUTES:
    before = len(gw.reqlog(name))
    t = time.time()
    st, body = gw.req(port, "GET", r)
    out[r] = {"status": st, "body": body, "seconds": round(time.time() - t, 2),
              "provider_requests": [{k: q[k] for k in ("method", "route", "path")} | {"authorization": q["headers"].get("authorization")}
                                    for q in gw.reqlog(name)[before:]]}
    print(r, st, out[r]["seconds"], len(out[r]["provider_requests"]), flush=True)
json.dump(out, open(outfile, "w"), indent=1)
