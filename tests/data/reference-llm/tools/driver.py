"""driver.py NAME GWPORT OUTDIR [reverse]: records every case on the running gateway NAME."""
import json, sys, time, uuid, threading, os
sys.path.insert(0, "/tmp/rec")
import gw

STREAM = {"_runtime": {"stream": True}}
Y = "user:{run_id}:node-4"
CASES = [
    ("llm-plain", "dur-llm", "plain", {}),
    ("llm-system", "dur-llm", "system", {}),
    ("llm-structured", "dur-llm", "structured", {}),
    ("llm-structured-native", "dur-llm", "structured-native", {}),
    ("llm-tools", "dur-llm", "tools", {}),
    ("llm-tools-openai", "dur-llm", "tools-openai", {}),
    ("llm-stream", "dur-llm", "plain", STREAM),
    ("llm-stream-slow", "dur-llm", "slow", STREAM),
    ("llm-stream-structured", "dur-llm", "structured-native", STREAM),
    ("llm-stream-tools", "dur-llm", "tools-openai", STREAM),
    ("llm-stream-fail", "dur-llm", "fail-500", STREAM),
    ("llm-params", "dur-llm", "params", {}),
    ("llm-params-config", "dur-llm", "params-config", {}),
    ("llm-pins", "dur-llm", "pins", {}),
    ("llm-pins-input", "dur-llm", "pins", {"prompt": "Hi from input", "provider": "lmstudio", "model": "fake-tools"}),
    ("llm-model-only", "dur-llm", "model-only", {}),
    ("llm-auto", "dur-llm", "auto", {}),
    ("llm-fail-500", "dur-llm", "fail-500", {}),
    ("llm-fail-401", "dur-llm", "fail-401", {}),
    ("llm-fail-429", "dur-llm", "fail-429", {}),
    ("llm-fail-truncated", "dur-llm", "fail-truncated", {}),
    ("llm-fail-unlisted", "dur-llm", "fail-unlisted", {}),
    ("upstream-basic-llm-test", "basic-llm-test", "ec5a574d",
     {"prompt": "Hi there", "system": "Be brief.", "provider": "lmstudio", "model": "fake-chat"}),
    ("upstream-basic-llm-test-auto", "basic-llm-test", "ec5a574d", {"prompt": "Hi there"}),
    ("upstream-basic-llm-test-empty", "basic-llm-test", "ec5a574d", {}),
    ("upstream-yoda-numeric", "yoda", "646770d8", {"prompt": 42}, [
        {"await": {"status": "waiting", "waiting": {"reason": "user", "wait_key": Y}}},
        {"command": {"type": "resume", "payload": {"wait_key": Y, "payload": {"response": "Tell me more"}}}}]),
    ("upstream-yoda-numeric-loop", "yoda", "646770d8", {"prompt": 42}, [
        {"await": {"status": "waiting", "waiting": {"reason": "user", "wait_key": Y}}},
        {"command": {"type": "resume", "payload": {"wait_key": Y, "payload": {"response": 7}}}},
        {"await": {"status": "waiting", "waiting": {"reason": "user", "wait_key": Y}, "ledger_at_least": 13}},
        {"command": {"type": "resume", "payload": {"wait_key": Y, "payload": {"response": "enough"}}}}]),
    ("upstream-yoda-string", "yoda", "646770d8", {"prompt": "hello"}),
]

def subst(x, rid):
    if isinstance(x, str): return x.replace("{run_id}", rid).replace("{session_id}", rid)
    if isinstance(x, list): return [subst(i, rid) for i in x]
    if isinstance(x, dict): return {k: subst(v, rid) for k, v in x.items()}
    return x

def subset(want, have):
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and subset(v, have[k]) for k, v in want.items())
    return want == have and type(want) == type(have)

def run_case(name, port, case, sse_late=False):
    cname, bundle, flow, inp = case[:4]
    steps = case[4] if len(case) > 4 else []
    before = len(gw.reqlog(name))
    rid = gw.start(port, bundle, flow, inp)
    sse = {}
    th = None
    if "_runtime" in inp:
        th = threading.Thread(target=gw.sse_capture, args=(port, rid, sse), daemon=True); th.start()
    for st in steps:
        st = subst(st, rid)
        if "await" in st:
            a = dict(st["await"]); n = a.pop("ledger_at_least", 0)
            t0 = time.time()
            while time.time() - t0 < 60:
                _, v = gw.req(port, "GET", f"/runs/{rid}")
                if subset(a, v) and len(gw.ledger(port, rid)["items"]) >= n: break
                time.sleep(0.3)
            else:
                raise SystemExit(f"{cname}: await timed out: {a} last={json.dumps(v)[:500]}")
        elif "command" in st:
            c = dict(st["command"]); c.setdefault("run_id", rid); c["command_id"] = str(uuid.uuid4())
            s, r = gw.req(port, "POST", "/commands", c); assert s < 300, (s, r)
    v = gw.wait(port, rid, timeout=120)
    time.sleep(1.0)
    v = gw.wait(port, rid, timeout=120)
    if th: th.join(timeout=30)
    out = {"case": cname, "bundle": bundle, "flow_id": flow, "input_data": inp, "steps": steps, "run_id": rid,
           "run": v, "ledger": gw.ledger(port, rid), "provider_requests": gw.reqlog(name)[before:]}
    if th: out["sse"] = sse
    return out

if __name__ == "__main__":
    name, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rev = len(sys.argv) > 4 and sys.argv[4] == "reverse"
    os.makedirs(outdir, exist_ok=True)
    cases = list(reversed(CASES)) if rev else CASES
    only = os.environ.get("ONLY")
    for c in cases:
        if only and c[0] not in only.split(","): continue
        r = run_case(name, port, c)
        json.dump(r, open(f"{outdir}/{c[0]}.json", "w"), indent=1)
        print(c[0], r["run"]["status"], flush=True)
