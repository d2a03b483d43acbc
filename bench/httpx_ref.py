#!/usr/bin/env python3
"""The Python reference design for fetching a URL list, for bench/run.sh.

httpx.AsyncClient + asyncio.Semaphore + asyncio.TaskGroup: one task per URL,
a per-request asyncio.timeout, URLs read from stdin (one a line; blank lines
and lines starting with '#' are skipped), one JSON line per result on stdout
in completion order, a summary line on stderr (not with -q).

    python3 bench/httpx_ref.py [-c N] [-t SECONDS] [--cacert FILE] [--http2] [-q] < urls.txt

Needs httpx (and h2 for --http2): `pip install 'httpx[http2]'`.
"""

import argparse
import asyncio
import json
import ssl
import sys
import time

import httpx


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-c", "--max-concurrency", type=int, default=5)
    p.add_argument("-t", "--timeout", type=float, default=5.0)
    p.add_argument("--cacert", help="PEM file of extra CA certificates to trust")
    p.add_argument("--http2", action="store_true", help="offer HTTP/2 by ALPN")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    return p.parse_args()


async def fetch(client, sem, url, deadline, out, counts):
    async with sem:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(deadline):
                async with client.stream("GET", url) as resp:
                    size = 0
                    async for chunk in resp.aiter_raw():
                        size += len(chunk)
            rec = {
                "type": "success",
                "url": url,
                "status": resp.status_code,
                "size": size,
                "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
                "http_version": resp.http_version,
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
        except (httpx.HTTPError, OSError, ssl.SSLError) as e:
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
    urls = [line.strip() for line in sys.stdin]
    urls = [u for u in urls if u and not u.startswith("#")]
    verify = ssl.create_default_context(cafile=args.cacert) if args.cacert else True
    c = args.max_concurrency
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    sem = asyncio.Semaphore(c)
    counts = [0, 0]
    # Block-buffered whatever PYTHONUNBUFFERED says, as stdout to a file or pipe is by default.
    out = open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8", closefd=False)
    start = time.perf_counter()
    async with httpx.AsyncClient(
        verify=verify,
        http1=True,
        http2=args.http2,
        limits=limits,
        timeout=None,
        follow_redirects=True,
        max_redirects=10,
    ) as client:
        async with asyncio.TaskGroup() as tg:
            for url in urls:
                tg.create_task(fetch(client, sem, url, args.timeout, out, counts))
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
