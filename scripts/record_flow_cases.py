#!/usr/bin/env python3
"""Records simple flow cases (start, run to the end, no steps) from a running reference gateway
and writes them as tests/flow-cases/<name>/case.json (format: tests/flow-cases/README.md).

    python3 scripts/record_flow_cases.py URL TOKEN SPEC.json [--only PREFIX]

SPEC.json is a list of {"name", "bundle", "flow_id", "input_data"}; the bundles must be in the
reference's flows dir. Each case is started with POST /api/gateway/runs/start, polled with
GET /runs/{id} until terminal, and its ledger read with GET /runs/{id}/ledger. Standard
library only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "flow-cases")


def call(url: str, token: str, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def record(url: str, token: str, spec: dict) -> dict:
    body = {"bundle_id": spec["bundle"], "flow_id": spec["flow_id"], "input_data": spec.get("input_data", {})}
    run_id = call(url, token, "POST", "/api/gateway/runs/start", body)["run_id"]
    deadline = time.time() + 30
    while True:
        view = call(url, token, "GET", f"/api/gateway/runs/{run_id}")
        if view.get("status") in ("completed", "failed", "cancelled"):
            break
        if time.time() > deadline:
            raise SystemExit(f"{spec['name']}: run {run_id} never ended: {view.get('status')}")
        time.sleep(0.1)
    time.sleep(0.3)  # the ledger lands after the state
    page = call(url, token, "GET", f"/api/gateway/runs/{run_id}/ledger")
    records = page.get("items", page if isinstance(page, list) else [])
    expect = {"status": view["status"], "output": view.get("output")}
    if view.get("error"):
        expect["error"] = view["error"]
    expect["ledger"] = [
        {"status": r.get("status"), "effect": (r.get("effect") or {}).get("type"), "node_id": r.get("node_id")}
        for r in records
    ]
    return {"bundle": spec["bundle"], "flow_id": spec["flow_id"], "input_data": spec.get("input_data", {}), "expect": expect}


def main() -> None:
    url, token, spec_path = sys.argv[1:4]
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    with open(spec_path, encoding="utf-8") as fh:
        specs = json.load(fh)
    for spec in specs:
        if not spec["name"].startswith(only):
            continue
        case = record(url.rstrip("/"), token, spec)
        folder = os.path.join(CASES, spec["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "case.json"), "w", encoding="utf-8") as fh:
            json.dump(case, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        print(f"{spec['name']}: {case['expect']['status']}")


if __name__ == "__main__":
    main()
