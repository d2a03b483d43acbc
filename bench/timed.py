#!/usr/bin/env python3
"""timed.py TIMEFILE CMD...: runs `/usr/bin/time -f %M CMD` (stdin/stdout
inherited) and writes "WALL USER SYS MAXRSS_KIB" to TIMEFILE. USER and SYS come
from os.wait4's rusage of /usr/bin/time and its children (microsecond
resolution, unlike time's 10 ms %U/%S; time's own share is about a
millisecond); MAXRSS is time's %M for CMD (the wait4 figure here would carry
Python's own RSS over the fork); WALL is perf_counter around it all. Exits with
CMD's status."""
import os, sys, time, tempfile
out, cmd = sys.argv[1], sys.argv[2:]
fd, rssf = tempfile.mkstemp(prefix="timed-")
os.close(fd)
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv("/usr/bin/time", ["/usr/bin/time", "-o", rssf, "-f", "%M"] + cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
rss = open(rssf).read().split()[-1]
os.unlink(rssf)
with open(out, "w") as f:
    f.write(f"{wall:.6f} {ru.ru_utime:.6f} {ru.ru_stime:.6f} {rss}\n")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
