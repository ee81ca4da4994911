"""Interleaved A/B of two `tejun run` commands: runs them alternately so a
change in machine load hits both alike; prints each median and the
difference per step."""
import statistics
import subprocess
import sys
import time

steps, runs, before, after = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
times = {"before": [], "after": []}
for i in range(runs):
    order = [("before", before), ("after", after)]
    if i % 2:
        order.reverse()
    for name, cmd in order:
        t0 = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True)
        times[name].append(time.perf_counter() - t0)
b, a = statistics.median(times["before"]), statistics.median(times["after"])
print(f"A/B, {runs} interleaved runs each, {steps} steps")
print(f"before   median {b:.3f} s  {b / steps * 1000:.3f} ms/step")
print(f"after    median {a:.3f} s  {a / steps * 1000:.3f} ms/step")
print(f"after - before: {(a - b) / steps * 1000:+.3f} ms/step")
