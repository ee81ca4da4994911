#!/usr/bin/env python3
"""Generates the detection benchmark inputs (deterministic).

auth.log: 1M syslog lines (~100 MB) mixing sshd failures, successes, PAM
session noise, cron and kernel chatter. access.log: 1M combined-format
nginx lines, ~1% of them attacks (SQLi, traversal, scanners).

Usage: gen_logs.py DIR [LINES] [SEED]. SEED 0 (the default) writes the
benchmark's logs; another seed writes logs alike but not the same (the
profile-guided build trains on those, not on what it is measured with)."""
import random, sys

def auth(path, n, seed=0):
    r = random.Random(42 + seed)
    users = ["root", "admin", "oracle", "test", "ubuntu", "deploy", "git", "postgres"]
    with open(path, "w") as f:
        for i in range(n):
            sec = i * 2
            ts = "Nov %2d %02d:%02d:%02d" % (1 + (sec // 86400) % 28, (sec // 3600) % 24, (sec // 60) % 60, sec % 60)
            ip = "203.0.%d.%d" % (r.randrange(256), r.randrange(1, 255))
            pid = 1000 + r.randrange(60000)
            k = r.random()
            if k < 0.25:
                msg = "sshd[%d]: Failed password for %s%s from %s port %d ssh2" % (pid, "invalid user " if r.random() < 0.5 else "", r.choice(users), ip, r.randrange(1024, 65535))
            elif k < 0.32:
                msg = "sshd[%d]: Invalid user %s from %s port %d" % (pid, r.choice(users), ip, r.randrange(1024, 65535))
            elif k < 0.37:
                msg = "sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s" % (pid, ip, r.choice(users))
            elif k < 0.45:
                msg = "sshd[%d]: Accepted publickey for deploy from 198.51.100.%d port %d ssh2: ED25519 SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" % (pid, r.randrange(1, 255), r.randrange(1024, 65535))
            elif k < 0.60:
                msg = "sshd[%d]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)" % pid
            elif k < 0.70:
                msg = "sshd[%d]: Connection closed by %s port %d [preauth]" % (pid, ip, r.randrange(1024, 65535))
            elif k < 0.85:
                msg = "CRON[%d]: pam_unix(cron:session): session closed for user root" % pid
            else:
                msg = "kernel: [%d.%06d] UFW BLOCK IN=eth0 OUT= MAC=00:00 SRC=%s DST=10.0.0.1 LEN=40 PROTO=TCP SPT=%d DPT=23" % (r.randrange(10**6), r.randrange(10**6), ip, r.randrange(1024, 65535))
            f.write("%s web1 %s\n" % (ts, msg))

def access(path, n, seed=0):
    r = random.Random(7 + seed)
    benign = ["/", "/search?q=O%27Reilly+books", "/products?page=3&per_page=24", "/cart", "/static/app.js", "/api/v1/items?select=name,price",
              "/blog/2026/11/post?utm_source=newsletter&utm_medium=email", "/search?q=union+jack+flag", "/img/logo.png"]
    attacks = ["/login?user=admin%27%20OR%20%271%27%3D%271", "/item?id=1+UNION+SELECT+user,pass+FROM+users", "/static/%2e%2e/%2e%2e/etc/passwd", "/item?id=1;DROP TABLE users"]
    uas = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)"]
    with open(path, "w") as f:
        for i in range(n):
            sec = i
            ts = "%02d/Nov/2026:%02d:%02d:%02d +0000" % (1 + (sec // 86400) % 28, (sec // 3600) % 24, (sec // 60) % 60, sec % 60)
            ip = "192.0.2.%d" % r.randrange(1, 255)
            k = r.random()
            target = r.choice(attacks) if k < 0.01 else r.choice(benign)
            ua = "sqlmap/1.7.2#stable (https://sqlmap.org)" if k > 0.995 else r.choice(uas)
            f.write('%s - - [%s] "GET %s HTTP/1.1" %d %d "https://shop.example/" "%s"\n' % (ip, ts, target, r.choice([200, 200, 200, 304, 404]), r.randrange(100, 50000), ua))

if __name__ == "__main__":
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    auth(out + "/auth.log", n, seed)
    access(out + "/access.log", n, seed)
