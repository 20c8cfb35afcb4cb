import json, sys, time, urllib.request, uuid
TOKEN = "rec-token-0123456789abcdef"
def req(port, method, path, body=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(f"http://127.0.0.1:{port}/api/gateway{path}", data=data, method=method,
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            txt = resp.read().decode(); st = resp.status
    except urllib.error.HTTPError as e:
        txt = e.read().decode(); st = e.code
    if raw: return st, txt
    try: return st, json.loads(txt)
    except Exception: return st, txt
def start(port, bundle, flow, input_data, session_id=None):
    body = {"bundle_id": bundle, "flow_id": flow, "input_data": input_data}
    if session_id: body["session_id"] = session_id
    st, r = req(port, "POST", "/runs/start", body)
    assert st < 300, (st, r)
    return r["run_id"]
def wait(port, rid, until=("completed", "failed", "cancelled"), timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        st, v = req(port, "GET", f"/runs/{rid}")
        if v.get("status") in until: return v
        time.sleep(0.3)
    return v
def ledger(port, rid):
    st, v = req(port, "GET", f"/runs/{rid}/ledger?limit=1000")
    return v
import os
def reqlog(name):
    p = f"/tmp/rec/{name}/requests.jsonl"
    if not os.path.exists(p): return []
    return [json.loads(l) for l in open(p)]
def record(name, port, bundle, flow, input_data, session_id=None, timeout=60):
    before = len(reqlog(name))
    rid = start(port, bundle, flow, input_data, session_id)
    v = wait(port, rid, timeout=timeout)
    time.sleep(0.5)
    v = wait(port, rid, timeout=timeout)
    l = ledger(port, rid)
    return {"bundle": bundle, "flow_id": flow, "input_data": input_data, "run_id": rid,
            "run": v, "ledger": l, "provider_requests": reqlog(name)[before:]}
import http.client, threading
def sse_capture(port, rid, out, after=0, timeout=60):
    """Reads GET /runs/{rid}/ledger/stream raw into out['text'] until the server closes."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", f"/api/gateway/runs/{rid}/ledger/stream?after={after}", headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"})
    r = c.getresponse()
    out["status"] = r.status; out["headers"] = r.getheaders()
    buf = []
    t0 = time.time()
    try:
        while True:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
            if not chunk: break
            buf.append((round(time.time() - t0, 3), chunk.decode("utf-8", "replace")))
    except Exception as e:
        out["exc"] = repr(e)
    out["chunks"] = buf
    out["text"] = "".join(c for _, c in buf)
def record_stream(name, port, bundle, flow, input_data, timeout=60):
    before = len(reqlog(name))
    rid = start(port, bundle, flow, input_data)
    out = {}
    th = threading.Thread(target=sse_capture, args=(port, rid, out), daemon=True); th.start()
    v = wait(port, rid, timeout=timeout); th.join(timeout=30)
    time.sleep(0.5); v = wait(port, rid, timeout=timeout)
    return {"bundle": bundle, "flow_id": flow, "input_data": input_data, "run_id": rid, "run": v,
            "ledger": ledger(port, rid), "provider_requests": reqlog(name)[before:], "sse": out}
