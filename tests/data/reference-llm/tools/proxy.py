#!/usr/bin/env python3
"""Logging pass-through proxy in front of agw-fake-provider: proxy.py LISTEN_PORT UPSTREAM_PORT LOGFILE.
Appends one JSON line per request: {seq, method, path, headers(subset), body}."""
import http.client, json, re, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UP, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import os
EXTRA = [m for m in os.environ.get("EXTRA_MODELS", "").split(",") if m]
lock = threading.Lock(); seq = [0]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _do(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try: body = json.loads(raw) if raw else None
        except Exception: body = raw.decode("utf-8", "replace")
        route, path = "", self.path
        m = re.match(r"^/([a-z-]+)(/v1/.*)$", self.path)
        if m: route, path = m.group(1), m.group(2)
        with lock:
            seq[0] += 1
            keep = {k.lower(): v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "accept", "user-agent")}
            with open(LOG, "a") as fh:
                fh.write(json.dumps({"seq": seq[0], "method": self.command, "route": route, "path": path, "headers": keep, "body": body}) + "\n")
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=120)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        try:
            c.request(self.command, path, body=raw or None, headers=hdrs)
            r = c.getresponse()
        except Exception as e:
            self.send_error(502, str(e)); return
        if path == "/v1/models" and r.status == 200 and EXTRA:
            doc = json.loads(r.read())
            have = {m.get("id") for m in doc.get("data", [])}
            for mid in EXTRA:
                if mid not in have:
                    doc["data"].append({"id": mid, "object": "model", "created": 0, "owned_by": "fake"})
            out = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers(); self.wfile.write(out); self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"): continue
            self.send_header(k, v)
        self.send_header("transfer-encoding", "chunked"); self.send_header("connection", "close")
        self.end_headers()
        try:
            while True:
                chunk = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
                if not chunk: break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk)); self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
        except Exception:
            pass
        self.close_connection = True
    do_GET = do_POST = do_PUT = do_DELETE = _do

ThreadingHTTPServer(("127.0.0.1", LISTEN), H).serve_forever()
