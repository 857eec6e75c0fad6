"""The hold model in SimPy, for the README's comparison with wharf's queue.

N processes each wait an exponentially distributed time (mean 1 ms) in a
loop, so N events are always pending; we time HOLDS holds after a warm-up and
report the median of REPEATS runs, in ns of CPU per hold.

    pip install simpy==4.1.1 && python3 benches/peers/simpy_hold.py
"""
import random
import sys
import time

import simpy

HOLDS = 200_000
REPEATS = 3


def run(n):
    env = simpy.Environment()
    rng = random.Random(1)
    count = [0]

    def proc():
        while True:
            yield env.timeout(rng.expovariate(1000.0))
            count[0] += 1

    for _ in range(n):
        env.process(proc())
    env.run(until=env.now + 0.01)  # warm-up: every process scheduled
    count[0] = 0
    t0 = time.process_time()
    while count[0] < HOLDS:
        env.step()
    return (time.process_time() - t0) / count[0] * 1e9


for n in [100, 10_000, 1_000_000]:
    results = sorted(run(n) for _ in range(REPEATS if n < 1_000_000 else 1))
    print(f"simpy hold, {n} pending: {results[len(results) // 2]:.0f} ns per hold")
    sys.stdout.flush()
