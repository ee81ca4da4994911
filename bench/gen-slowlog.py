#!/usr/bin/env python3
"""A MySQL/MariaDB slow log of about SIZE bytes for `tejun digest` tests and
bench/digest.sh: 60 statement shapes (multi-line, comments, IN lists,
multi-row inserts, quoted strings with escapes, numbers inside names, NULL,
booleans, UNION, LIMIT forms, CALL, administrator commands) with random
literals, MySQL 8 and MariaDB header styles mixed. Deterministic per seed.

usage: gen-slowlog.py SIZE[K|M|G] [SEED] > slow.log
"""
import random
import sys


def size_arg(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


def word(r):
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 9)))


def string(r):
    s = word(r)
    roll = r.random()
    if roll < 0.1:
        s += "\\'s"
    elif roll < 0.15:
        s += ' "q" '
    elif roll < 0.2:
        s = "日本語" + s
    return "'" + s + "'"


def num(r):
    roll = r.random()
    if roll < 0.1:
        return "-" + str(r.randint(1, 999))
    if roll < 0.2:
        return "%d.%02d" % (r.randint(0, 999), r.randint(0, 99))
    if roll < 0.25:
        return "0x%X" % r.randint(1, 1 << 20)
    return str(r.randint(0, 10**r.randint(1, 8)))


def in_list(r):
    return ", ".join(num(r) for _ in range(r.randint(1, 12)))


SHAPES = [
    lambda r: f"SELECT * FROM orders WHERE customer_email = {string(r)}",
    lambda r: f"SELECT id, total FROM orders WHERE id = {num(r)}",
    lambda r: f"select id, name\n  from users1 /* list users */\n where id IN ({in_list(r)})\n   and active = TRUE",
    lambda r: f"SELECT * FROM products WHERE category_id = {num(r)} ORDER BY price ASC LIMIT {r.randint(1, 50)}",
    lambda r: f"SELECT * FROM products WHERE name LIKE {string(r)} LIMIT {r.randint(0, 9)}, {r.randint(1, 50)}",
    lambda r: f"SELECT * FROM products WHERE name LIKE {string(r)} LIMIT {r.randint(1, 50)} OFFSET {r.randint(0, 999)}",
    lambda r: "INSERT INTO log2 (a, b, c) VALUES " + ", ".join(f"({num(r)}, {string(r)}, NULL)" for _ in range(r.randint(1, 6))),
    lambda r: f"INSERT IGNORE INTO sessions (id, user_id, data) VALUES ({string(r)}, {num(r)}, {string(r)})",
    lambda r: f"REPLACE INTO cache_2024 (k, v) VALUES ({string(r)}, {string(r)}), ({string(r)}, {string(r)})",
    lambda r: f"UPDATE orders SET status = {string(r)}, updated_at = NOW() WHERE id = {num(r)}",
    lambda r: f"UPDATE carts SET qty = qty + {r.randint(1, 5)} WHERE user_id = {num(r)} AND sku = {string(r)}",
    lambda r: f"DELETE FROM sessions WHERE expires < {r.randint(1600000000, 1800000000)}",
    lambda r: f"SELECT COUNT(*) FROM orders WHERE created_at > '2026-11-{r.randint(10, 30)} 00:00:00' AND status IN ('paid', 'shipped')",
    lambda r: f"SELECT a.id, b.name FROM t1 a JOIN t2 b ON a.bid = b.id WHERE a.x = {num(r)} AND b.flag = FALSE",
    lambda r: f"SELECT id FROM shard_{r.randint(1, 4)}.users WHERE id = {num(r)}",
    lambda r: f"SELECT * FROM `events` WHERE `type` = {string(r)} AND `ts` BETWEEN {num(r)} AND {num(r)}",
    lambda r: f"-- report query\nSELECT SUM(total) FROM orders WHERE day = '2026-12-{r.randint(10, 28)}'",
    lambda r: f"SELECT * FROM t WHERE a IS NULL AND b = {num(r)} # find orphans",
    lambda r: f"SELECT name FROM users WHERE id = {num(r)} UNION SELECT name FROM users WHERE id = {num(r)}",
    lambda r: f"SELECT 1",
    lambda r: f"SELECT @@version_comment LIMIT 1",
    lambda r: f"CALL refresh_stats({num(r)}, {string(r)})",
    lambda r: f"SHOW TABLE STATUS LIKE {string(r)}",
    lambda r: f"SET NAMES utf8mb4",
    lambda r: f"COMMIT",
    lambda r: f"BEGIN",
    lambda r: f"SELECT * FROM items WHERE id IN ({in_list(r)}) ORDER BY created_at DESC, id ASC",
    lambda r: f"select * from items where sku = \"{word(r)}\" and price > {num(r)}",
    lambda r: f"SELECT /*+ MAX_EXECUTION_TIME(1000) */ id FROM big WHERE v = {num(r)}",
    lambda r: f"SELECT /*!40001 SQL_NO_CACHE */ id FROM big WHERE v = {num(r)}",
    lambda r: f"SELECT md5('{word(r)}') AS h, x FROM t3 WHERE y = {num(r)}",
    lambda r: f"INSERT INTO audit (msg) VALUES ('{word(r)} -- not a comment')",
    lambda r: f"SELECT * FROM stock WHERE qty<{num(r)} AND wh='{word(r)}'",
    lambda r: f"SELECT * FROM geo WHERE lat > {num(r)}e{r.randint(1, 3)} AND lon < -{num(r)}",
    lambda r: f"SELECT\n\tid,\n\tname\nFROM\n\tcategories\nWHERE\n\tparent_id = {num(r)};\n",
    lambda r: f"UPDATE counters SET n = n + 1 WHERE name = {string(r)}",
    lambda r: f"SELECT * FROM orders WHERE id = {num(r)} FOR UPDATE",
    lambda r: f"SELECT * FROM t9 WHERE c IN ( {in_list(r)} ) AND d IN ({string(r)}, {string(r)})",
    lambda r: f"select * from Customers where Name = {string(r)} and Age >= {r.randint(18, 99)}",
    lambda r: f"SELECT x FROM y WHERE z = {string(r)} UNION ALL SELECT x FROM y WHERE z = {string(r)}",
]


def main():
    target = size_arg(sys.argv[1])
    r = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    weights = [r.random() ** 3 for _ in SHAPES]
    out = sys.stdout
    written = 0
    ts = 1764583200
    entry = 0
    chunk = []
    while written < target:
        entry += 1
        if r.random() < 0.3:
            ts += 1
        shape = r.choices(range(len(SHAPES)), weights)[0]
        slow = 1 + shape % 7
        query_time = r.expovariate(1.0 / (0.001 * slow**3)) + 0.000001 * r.randint(1, 999)
        examined = r.randint(0, 10) if shape % 5 else r.randint(1000, 200000)
        sent = r.randint(0, 5)
        lines = []
        if entry % 2:
            lines.append("# Time: %s.%06dZ\n" % (
                __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(ts)),
                r.randint(0, 999999)))
            lines.append("# User@Host: app[app] @ localhost []  Id: %d\n" % r.randint(1, 99))
        else:
            lines.append("# User@Host: app[app] @ web%d [10.0.0.%d]\n" % (r.randint(1, 9), r.randint(1, 250)))
            lines.append("# Thread_id: %d  Schema: shop  QC_hit: No\n" % r.randint(1, 99))
        lines.append("# Query_time: %.6f  Lock_time: %.6f  Rows_sent: %d  Rows_examined: %d\n" % (
            query_time, r.random() * 0.001, sent, examined))
        if entry % 97 == 0:
            lines.append("use shop;\n")
        lines.append("SET timestamp=%d;\n" % ts)
        text = SHAPES[shape](r).rstrip(";\n")
        lines.append(text + ";\n")
        if entry % 53 == 0:
            lines.append("# User@Host: app[app] @ localhost []\n")
            lines.append("# Query_time: 0.000%03d  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\n" % r.randint(1, 999))
            lines.append("# administrator command: Quit;\n")
        block = "".join(lines)
        written += len(block.encode())
        chunk.append(block)
        if len(chunk) >= 4096:
            out.write("".join(chunk))
            chunk = []
    out.write("".join(chunk))


if __name__ == "__main__":
    main()
