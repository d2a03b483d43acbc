#!/usr/bin/env python3
"""An aiohttp client for fetching a URL list, for the real-world part of bench/run.sh.

aiohttp.ClientSession over one TCPConnector(limit=N, ttl_dns_cache=...), an
asyncio.Semaphore(N) taken before each URL's task is made (so at most N tasks
exist, however long the list), a per-request asyncio.timeout. URLs come from
stdin (one a line; blank lines and lines starting with '#' are skipped); one
JSON line per result goes to stdout in completion order, shaped as
fetcher-stream's (`"type":"success"` with the status first, or
`"type":"failure"` with an `error_kind`), a summary line to stderr (not with -q).

aiohttp caches DNS answers per host and port (`ttl_dns_cache`, here longer than
any run) and shares one lookup among the requests waiting for the same host.
Its default resolver runs getaddrinfo in the event loop's default executor,
whose size Python caps at min(32, cores + 4) threads; --resolver-threads sets
that pool (default: N, so that as many lookups as requests can be in flight,
as with curl's and fetcher-stream's resolvers; 0 keeps Python's default).

    python3 bench/aiohttp_ref.py [-c N] [-t SECONDS] [--cacert FILE] [-q] < urls.txt

Needs aiohttp: `pip install aiohttp`. It speaks HTTP/1.1 only.
"""

import argparse
import asyncio
import concurrent.futures
import json
import ssl
import sys
import time

import aiohttp


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-c", "--max-concurrency", type=int, default=5)
    p.add_argument("-t", "--timeout", type=float, default=30.0)
    p.add_argument("--cacert", help="PEM file of extra CA certificates to trust")
    p.add_argument("--dns-ttl", type=float, default=3600.0, help="ttl_dns_cache in seconds")
    p.add_argument("--resolver-threads", type=int, default=None,
                   help="threads for getaddrinfo (default: -c; 0: Python's default executor)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    return p.parse_args()


async def fetch(session, url, deadline, out, counts):
    start = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            async with session.get(url, allow_redirects=True) as resp:
                size = 0
                async for chunk in resp.content.iter_any():
                    size += len(chunk)
        rec = {
            "type": "success",
            "url": url,
            "status": resp.status,
            "size": size,
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
            "http_version": f"HTTP/{resp.version.major}.{resp.version.minor}",
        }
        counts[0] += 1
    except TimeoutError:
        rec = {
            "type": "failure",
            "url": url,
            "error": f"timeout after {deadline}s",
            "error_kind": "timeout",
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        }
        counts[1] += 1
    except (aiohttp.ClientError, OSError, ssl.SSLError) as e:
        rec = {
            "type": "failure",
            "url": url,
            "error": str(e) or type(e).__name__,
            "error_kind": type(e).__name__,
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        }
        counts[1] += 1
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")


async def main():
    args = parse_args()
    c = args.max_concurrency
    threads = c if args.resolver_threads is None else args.resolver_threads
    if threads > 0:
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="resolve"))
    ctx = ssl.create_default_context(cafile=args.cacert) if args.cacert else ssl.create_default_context()
    connector = aiohttp.TCPConnector(limit=c, ttl_dns_cache=args.dns_ttl, use_dns_cache=True, ssl=ctx)
    sem = asyncio.Semaphore(c)
    counts = [0, 0]
    tasks = set()
    # Block-buffered whatever PYTHONUNBUFFERED says, as stdout to a file or pipe is by default.
    out = open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8", closefd=False)
    start = time.perf_counter()

    async def one(session, url):
        try:
            await fetch(session, url, args.timeout, out, counts)
        finally:
            sem.release()

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        for line in sys.stdin:
            url = line.strip()
            if not url or url.startswith("#"):
                continue
            await sem.acquire()
            t = asyncio.create_task(one(session, url))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    out.flush()
    if not args.quiet:
        summary = {
            "type": "summary",
            "total": counts[0] + counts[1],
            "succeeded": counts[0],
            "failed": counts[1],
            "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        }
        print(json.dumps(summary, separators=(",", ":")), file=sys.stderr)
    return 0 if counts[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
