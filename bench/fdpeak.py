#!/usr/bin/env python3
"""Samples the open file descriptors and threads of a client while it runs.

    python3 bench/fdpeak.py PID [--interval-ms 10] [--skip time,timeout,taskset]

Every interval it walks the process tree under PID (through
/proc/PID/task/TID/children, so no scan of all of /proc), leaves out PID itself
and the wrappers named by --skip (the /usr/bin/time, timeout and taskset that
start the client), and adds up the entries of /proc/P/fd and the Threads of
/proc/P/status of the rest. When PID is gone it prints "FDS THREADS SAMPLES CPU":
the largest sums seen, how many samples were taken and the CPU seconds the
sampler itself used (user + sys), which the bench leaves out of "other" load.

A process can open and close descriptors between two samples, so the peak is a
lower bound; at 10 ms it catches a pool of connections that lives for a while.
"""

import argparse
import os
import time


def children(pid):
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def threads(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pid", type=int)
    ap.add_argument("--interval-ms", type=float, default=10.0)
    ap.add_argument("--skip", default="time,timeout,taskset")
    a = ap.parse_args()
    skip = set(a.skip.split(","))
    peak_fds = peak_threads = samples = 0
    while os.path.exists(f"/proc/{a.pid}"):
        fds = nthreads = 0
        todo = children(a.pid)
        while todo:
            p = todo.pop()
            todo.extend(children(p))
            if comm(p) in skip:
                continue
            try:
                fds += len(os.listdir(f"/proc/{p}/fd"))
            except OSError:
                continue
            nthreads += threads(p)
        peak_fds = max(peak_fds, fds)
        peak_threads = max(peak_threads, nthreads)
        samples += 1
        time.sleep(a.interval_ms / 1000)
    t = os.times()
    print(peak_fds, peak_threads, samples, f"{t.user + t.system:.2f}")


if __name__ == "__main__":
    main()
