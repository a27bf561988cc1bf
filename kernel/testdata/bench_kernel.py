"""Kernel latency benchmarks, driven through jupyter_client as a front end
would: kernel start to first kernel_info reply, and the round trip of
executing `1+1` (request sent to execute_reply and idle received).

    JUPYTER_PATH=P/share/jupyter /usr/bin/python3 kernel/testdata/bench_kernel.py [--starts N] [--execs N]
"""

import argparse
import statistics
import time

from jupyter_client.manager import KernelManager


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def summary(name, xs):
    ms = [x * 1000 for x in xs]
    print(f"{name}: n={len(ms)} median={statistics.median(ms):.2f} ms p90={pct(ms, 90):.2f} ms min={min(ms):.2f} ms")


def start_to_info(kernel_name):
    t0 = time.perf_counter()
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    while True:
        kc.kernel_info()
        try:
            kc.get_shell_msg(timeout=0.05)
            break
        except Exception:
            continue
    dt = time.perf_counter() - t0
    return dt, km, kc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="gomplab")
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--execs", type=int, default=200)
    a = ap.parse_args()

    starts = []
    for _ in range(a.starts):
        dt, km, kc = start_to_info(a.kernel)
        starts.append(dt)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    summary("start to kernel_info reply", starts)

    _, km, kc = start_to_info(a.kernel)
    kc.execute_interactive("1+1", timeout=30, output_hook=lambda m: None)  # warm up
    rts = []
    for _ in range(a.execs):
        t0 = time.perf_counter()
        reply = kc.execute_interactive("1+1", timeout=30, output_hook=lambda m: None)
        rts.append(time.perf_counter() - t0)
        assert reply["content"]["status"] == "ok"
    summary("execute 1+1 round trip", rts)
    kc.stop_channels()
    km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
