#!/usr/bin/env python3
"""Deterministic nginx access logs for tejun stats examples and benchmarks.

  gen_access_log.py --lines 1000000 [--timed] [--seed 1] [--rps 200] > access.log

--timed appends ` rt=$request_time urt=$upstream_response_time` (the
log_format in examples/nginx-log-format.conf); without it the lines are
plain combined. Between 40% and 60% of the way through, /api/products/:id
slows down and 5% of requests answer 503 (a stand-in incident).
"""
import argparse
import random
import sys
import time

PATHS = [
    ("GET", "/", 30),
    ("GET", "/api/products/{id}", 25),
    ("GET", "/api/products", 10),
    ("POST", "/api/cart/{id}/items", 8),
    ("GET", "/api/users/{uuid}", 6),
    ("GET", "/static/app.{hex}.js", 10),
    ("POST", "/login", 3),
    ("GET", "/healthz", 5),
    ("GET", "/wp-login.php", 1),
]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "kube-probe/1.30",
]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--timed", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rps", type=float, default=200.0)
    ap.add_argument("--start", type=int, default=1764806400)  # 2025-12-04T00:00:00Z
    ap.add_argument("--malformed-every", type=int, default=0)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    weights = [w for _, _, w in PATHS]
    clients = ["10.0.%d.%d" % (rnd.randrange(4), rnd.randrange(1, 255)) for _ in range(300)]
    out = sys.stdout
    buf = []
    t = float(a.start)
    stamp_second, stamp = None, ""
    for i in range(a.lines):
        t += rnd.expovariate(a.rps)
        sec = int(t)
        if sec != stamp_second:
            g = time.gmtime(sec)
            stamp = "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
                g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)
            stamp_second = sec
        method, path, _ = rnd.choices(PATHS, weights)[0]
        path = path.format(id=rnd.randrange(1, 50000),
                           uuid="%08x-%04x-4%03x-a%03x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16), rnd.getrandbits(12), rnd.getrandbits(12), rnd.getrandbits(48)),
                           hex="%016x" % rnd.getrandbits(64))
        incident = 0.4 <= i / a.lines < 0.6
        rt = rnd.lognormvariate(-3.5, 0.6)
        status = 200
        if path.startswith("/api/products/") and incident:
            rt = rnd.lognormvariate(0.3, 0.4)
            if rnd.random() < 0.25:
                status = 503
        elif path == "/wp-login.php":
            status = 404
        elif method == "POST" and path == "/login":
            status = 302 if rnd.random() < 0.7 else 401
        if incident and status == 200 and rnd.random() < 0.02:
            status = 503
        size = 0 if status in (302, 304) else rnd.randrange(200, 40000)
        if path.startswith("/static/") and rnd.random() < 0.4:
            status, size = 304, 0
        query = "?page=%d" % rnd.randrange(1, 9) if path == "/api/products" else ""
        line = '%s - - [%s] "%s %s%s HTTP/1.1" %d %d "-" "%s"' % (
            rnd.choice(clients), stamp, method, path, query, status, size, rnd.choice(AGENTS))
        if a.timed:
            urt = "%.3f" % (rt * 0.95) if not path.startswith("/static/") else "-"
            line += " rt=%.3f urt=%s" % (rt, urt)
        if a.malformed_every and i % a.malformed_every == a.malformed_every - 1:
            line = line[: len(line) // 3]
        buf.append(line)
        if len(buf) >= 10000:
            out.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()
