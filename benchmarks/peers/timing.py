"""What the Python peers share with the C++ ones (timing.hpp): how a step is timed and reported.

Timed as every peer: a warm-up that doubles the step count until a run lasts 0.05 s, then seven
rounds of about 0.2 s each; the median time per step.
"""
import time


def median_step_ns(step):
    """The median time of one call of step(), in nanoseconds."""
    def seconds_for(n):
        start = time.perf_counter()
        for _ in range(n):
            step()
        return time.perf_counter() - start
    n = 1
    while seconds_for(n) < 0.05:
        n *= 2
    n = max(1, int(n * 0.2 / max(seconds_for(n), 1e-9)))
    rounds = sorted(seconds_for(n) / n * 1e9 for _ in range(7))
    return rounds[3]


def report(workload, system, ns, loss, steps):
    """The RESULT line compare.py reads."""
    print(f"RESULT workload={workload} system={system} step_ns={ns:.1f} loss={loss:.9g} steps={steps}",
          flush=True)
