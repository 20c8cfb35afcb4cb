import re, json
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX32 = re.compile(r"\b[0-9a-f]{24,64}\b")
TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?")
DATE = re.compile(r"(\d{4}|\d{1,3})-\d{2}-\d{2}(?=[ T])")
TIME = re.compile(r"\d{2}:\d{2}:\d{2}")
PORT = re.compile(r"http://127\.0\.0\.1:\d+(/[a-z-]+)?/v1")
CMPL = re.compile(r"chatcmpl-fake-\d+")
WS = re.compile(r"/tmp/rec/[a-z0-9]+/data")
VOLATILE_NUM_KEYS = {"gen_time", "ttft_ms", "duration_ms", "duration_s", "elapsed_ms", "seconds", "latency_ms", "x-gateway-duration-ms"}
def s(x):
    x = WS.sub("{data_dir}", x)
    x = PORT.sub(lambda m: "{base_url}", x)
    x = CMPL.sub("chatcmpl-fake-{n}", x)
    x = UUID.sub("{uuid}", x)
    x = TS.sub("{ts}", x)
    x = DATE.sub("{date}", x)
    x = TIME.sub("{time}", x)
    x = HEX32.sub("{hex}", x)
    return x
def norm(v, key=None):
    if isinstance(v, dict): return {k: norm(x, k) for k, x in v.items()}
    if isinstance(v, list): return [norm(x) for x in v]
    if isinstance(v, str): return s(v)
    if key in VOLATILE_NUM_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool): return "{num}"
    return v
def diff(a, b, path="", out=None):
    out = [] if out is None else out
    if type(a) != type(b): out.append((path, a, b)); return out
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b: out.append((path + "." + k, a.get(k, "<missing>"), b.get(k, "<missing>")))
            else: diff(a[k], b[k], path + "." + k, out)
    elif isinstance(a, list):
        if len(a) != len(b): out.append((path + "[len]", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)): diff(x, y, f"{path}[{i}]", out)
    elif a != b: out.append((path, a, b))
    return out
