"""emit.py OUTDIR REPO [check]: writes tests/flow-cases/<case>/ from a recording pass (or, with check,
returns the case.json texts without writing)."""
import json, os, re, sys, glob
sys.path.insert(0, "/tmp/rec")
DATE = re.compile(r"(\d{4}|\d{1,3})-\d{2}-\d{2}(?=[ T])")
TIME = re.compile(r"\d{2}:\d{2}:\d{2}")
BASE = re.compile(r"http://127\.0\.0\.1:\d+(/[a-z-]+)?/v1")
VOL = "{volatile}"

def s(x):
    x = BASE.sub("{base_url}", x)
    return TIME.sub("{time}", DATE.sub("{date}", x))

def walk(v):
    if isinstance(v, dict): return {k: walk(x) for k, x in v.items()}
    if isinstance(v, list): return [walk(x) for x in v]
    if isinstance(v, str): return s(v)
    return v

def mask_meta(out, paths):
    meta = out.get("meta") if isinstance(out, dict) else None
    if isinstance(meta, dict):
        for k in ("gen_time", "ttft_ms"):
            if k in meta: meta[k] = VOL; paths.append(f"output.meta.{k}")
        if isinstance(meta.get("trace"), dict) and "trace_id" in meta["trace"]:
            meta["trace"]["trace_id"] = VOL; paths.append("output.meta.trace.trace_id")

def case_json(r):
    run = r["run"]
    expect = {"status": run["status"]}
    paths = []
    out = walk(run.get("output"))
    mask_meta(out, paths)
    expect["output"] = out
    if run.get("error") is not None: expect["error"] = walk(run["error"])
    expect["ledger"] = [{"status": i["status"], "effect": (i["effect"] or {}).get("type"), "node_id": i["node_id"]}
                        for i in r["ledger"]["items"]]
    c = {"bundle": r["bundle"], "flow_id": r["flow_id"], "input_data": r["input_data"]}
    if r.get("steps"): c["steps"] = r["steps"]
    c["needs"] = ["fake-provider"]
    if r["bundle"] in ("yoda", "basic-llm-test"): c["bundle_source"] = "AGW_UPSTREAM_BUNDLES"
    c["expect"] = expect
    c["volatile"] = sorted(set(paths))
    return c

def main():
    outdir, repo = sys.argv[1], sys.argv[2]
    check = len(sys.argv) > 3
    res = {}
    for f in sorted(glob.glob(f"{outdir}/llm-*.json") + glob.glob(f"{outdir}/upstream-*.json")):
        r = json.load(open(f)); name = r["case"]
        text = json.dumps(case_json(r), indent=2, ensure_ascii=False) + "\n"
        res[name] = text
        if check: continue
        d = os.path.join(repo, "tests/flow-cases", name); os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "case.json"), "w").write(text)
        json.dump(r["run"], open(os.path.join(d, "reference-run.json"), "w"), indent=2, ensure_ascii=False)
        json.dump(r["ledger"], open(os.path.join(d, "reference-ledger.json"), "w"), indent=2, ensure_ascii=False)
        json.dump(r["provider_requests"], open(os.path.join(d, "reference-requests.json"), "w"), indent=2, ensure_ascii=False)
        if "sse" in r:
            open(os.path.join(d, "reference-sse.txt"), "w").write(r["sse"]["text"])
    return res

if __name__ == "__main__":
    res = main()
    if len(sys.argv) > 3:
        json.dump(res, open(sys.argv[3], "w"))
