#!/usr/bin/env python3
"""Times the reference's 1,000-record ledger replay, for the `store` benchmark suite.

Starts `loop-emit` with n=499 (1,000 ledger records, as in transcript file2/26) on a running
gateway, waits for it, then times `GET /runs/{id}/ledger?after=0&limit=1000` 100 times after
10 warm-up requests, and prints the same statistics as agw-bench.

    python3 host/agw-bench/reference_replay.py --url http://127.0.0.1:8899 --token T

The gateway must serve tests/data/reference-flows (loop-emit@0.1.0.flow). Only the standard
library is used.
"""
import argparse
import json
import time
import urllib.request


def call(url, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {token}",
                                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/") + "/api/gateway"
    run_id = call(base + "/runs/start", args.token, {"bundle_id": "loop-emit", "input_data": {"n": 499}})["run_id"]
    deadline = time.time() + 120
    while call(f"{base}/runs/{run_id}", args.token)["status"] != "completed":
        if time.time() > deadline:
            raise SystemExit("the run did not complete")
        time.sleep(0.1)
    samples = []
    for i in range(110):
        started = time.perf_counter()
        page = call(f"{base}/runs/{run_id}/ledger?after=0&limit=1000", args.token)
        elapsed = time.perf_counter() - started
        assert len(page["items"]) == 1000, len(page["items"])
        if i >= 10:
            samples.append(elapsed)
    samples.sort()
    ms = lambda s: round(s * 1e3, 3)
    at = lambda q: samples[round((len(samples) - 1) * q)]
    print(json.dumps({"n": len(samples), "median_ms": ms(at(0.5)), "p90_ms": ms(at(0.9)), "p99_ms": ms(at(0.99)),
                      "min_ms": ms(samples[0]), "max_ms": ms(samples[-1])}))


if __name__ == "__main__":
    main()
