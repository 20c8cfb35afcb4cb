import json, sys
def summ(r):
    v = r["run"]; print("==", r["flow_id"], r["input_data"], "->", v.get("status"), "error=", json.dumps(v.get("error"))[:400])
    print("   output:", json.dumps(v.get("output"))[:700])
    for it in r["ledger"]["items"]:
        eff = it["effect"] or {}
        print("   L", it["status"], eff.get("type"), it["node_id"], "err=", json.dumps(it["error"])[:300])
    for q in r["provider_requests"]:
        b = q["body"] or {}
        if isinstance(b, dict):
            b = {k: v for k, v in b.items() if k != "messages"} | {"n_messages": len(b.get("messages", [])) if isinstance(b, dict) else None}
        print("   P", q["method"], q["route"], q["path"], q["headers"].get("authorization"), json.dumps(b)[:600])
