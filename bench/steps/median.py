"""Prints the comparison table from hyperfine's JSON (or from our own loop's)."""
import json
import statistics
import sys

steps = int(sys.argv[1])
results = {}
for path in sys.argv[2:]:
    with open(path) as f:
        for r in json.load(f)["results"]:
            results[r["command"]] = r["times"]

def median(name):
    return statistics.median(results[name]) if name in results else None

bash = median("bash")
print(f"{'what':<10} {'runs':>5} {'median total':>14} {'per step':>11} {'overhead/step vs bash':>23}")
for name in ("bash", "tejun", "ansible"):
    m = median(name)
    if m is None:
        continue
    over = "" if name == "bash" or bash is None else f"{(m - bash) / steps * 1000:.3f} ms"
    print(f"{name:<10} {len(results[name]):>5} {m:>12.3f} s {m / steps * 1000:>8.3f} ms {over:>23}")
