#!/usr/bin/env python3
"""A small authoritative DNS server for the real-world benchmarks (stdlib only).

Answers over UDP and TCP on one address (127.0.0.1:53 by default):
  - A for the zone (`bench.test`) and every name under it: 127.0.0.1;
  - AAAA there: an empty NOERROR answer (or --aaaa ADDRESS);
  - any other type there: an empty NOERROR answer;
  - every name outside the zone: NXDOMAIN.

Each answer is sent --delay-ms after its query arrived, as a resolver across a
network would answer. The delay never blocks other queries: a UDP answer is a
timer on the event loop (`call_later`), a TCP answer a task that sleeps, so a
thousand queries in flight all come back after one delay.

It counts the queries it receives (by type, by transport, answered NXDOMAIN)
and the most that were waiting for their delay at once. On SIGUSR1 it writes
those counts as one JSON object to --stats (through a temporary file and a
rename, so a reader never sees half of it) and sets them back to zero: the
bench signals once before a client runs (discarding the counts) and once after.

    python3 bench/dns_server.py --delay-ms 5 --stats target/bench/real/dns-stats.json

Prints `listening on ADDR:PORT` on stdout once both sockets are bound.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import socket
import struct

TYPES = {1: "A", 28: "AAAA"}


class Stats:
    """Counts since the last SIGUSR1; `inflight` is the only one not reset."""

    def __init__(self):
        self.inflight = 0
        self.reset()

    def reset(self):
        self.by_type = {"A": 0, "AAAA": 0, "other": 0}
        self.udp = 0
        self.tcp = 0
        self.nxdomain = 0
        self.malformed = 0
        self.inflight_max = self.inflight

    def as_dict(self):
        return {
            "total": sum(self.by_type.values()),
            **self.by_type,
            "udp": self.udp,
            "tcp": self.tcp,
            "nxdomain": self.nxdomain,
            "malformed": self.malformed,
            "inflight_max": self.inflight_max,
        }


def parse_question(msg):
    """Returns (qname lower-case without the final dot, qtype, end of the question)
    for the first question of MSG, or None when MSG cannot be read."""
    if len(msg) < 12:
        return None
    qdcount = struct.unpack_from("!H", msg, 4)[0]
    if qdcount != 1:
        return None
    labels, i = [], 12
    while True:
        if i >= len(msg):
            return None
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 or i + 1 + n > len(msg):  # no compression in a query's question
            return None
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    if i + 4 > len(msg):
        return None
    qtype = struct.unpack_from("!H", msg, i)[0]
    return ".".join(labels), qtype, i + 4


class Answerer:
    def __init__(self, zone, a, aaaa, ttl, stats):
        self.zone = zone.lower().strip(".")
        self.a = ipaddress.IPv4Address(a).packed
        self.aaaa = ipaddress.IPv6Address(aaaa).packed if aaaa else None
        self.ttl = ttl
        self.stats = stats

    def in_zone(self, name):
        return name == self.zone or name.endswith("." + self.zone)

    def answer(self, msg, transport):
        """The response to MSG, or None to drop it (too short to carry an id)."""
        if transport == "udp":
            self.stats.udp += 1
        else:
            self.stats.tcp += 1
        q = parse_question(msg)
        if q is None:
            self.stats.malformed += 1
            if len(msg) < 12:
                return None
            # FORMERR with the id and opcode of the query and no sections.
            flags = 0x8000 | (msg[2] & 0x78) << 8 | 1
            return msg[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)
        name, qtype, end = q
        self.stats.by_type[TYPES.get(qtype, "other")] += 1
        rd = msg[2] & 0x01
        # QR, opcode copied, AA, RD copied, RA.
        flags = 0x8000 | (msg[2] & 0x78) << 8 | 0x0400 | rd << 8 | 0x0080
        rrs = []
        if not self.in_zone(name):
            flags |= 3  # NXDOMAIN
            self.stats.nxdomain += 1
        elif qtype == 1:
            rrs.append(struct.pack("!HHHIH", 0xC00C, 1, 1, self.ttl, 4) + self.a)
        elif qtype == 28 and self.aaaa:
            rrs.append(struct.pack("!HHHIH", 0xC00C, 28, 1, self.ttl, 16) + self.aaaa)
        # The question is sent back as it came; additional records (EDNS) are dropped.
        header = msg[:2] + struct.pack("!HHHHH", flags, 1, len(rrs), 0, 0)
        return header + msg[12:end] + b"".join(rrs)


class Udp(asyncio.DatagramProtocol):
    def __init__(self, answerer, delay):
        self.answerer = answerer
        self.delay = delay
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        resp = self.answerer.answer(data, "udp")
        if resp is None:
            return
        stats = self.answerer.stats
        stats.inflight += 1
        stats.inflight_max = max(stats.inflight_max, stats.inflight)
        asyncio.get_running_loop().call_later(self.delay, self.send, resp, addr)

    def send(self, resp, addr):
        self.answerer.stats.inflight -= 1
        self.transport.sendto(resp, addr)


async def tcp_client(reader, writer, answerer, delay):
    """Serves one TCP connection: each length-prefixed query gets its answer after
    the delay, in its own task, so later queries on the connection are not held up."""
    tasks = set()
    lock = asyncio.Lock()

    async def reply(resp):
        stats = answerer.stats
        stats.inflight += 1
        stats.inflight_max = max(stats.inflight_max, stats.inflight)
        try:
            await asyncio.sleep(delay)
        finally:
            stats.inflight -= 1
        async with lock:
            writer.write(struct.pack("!H", len(resp)) + resp)
            await writer.drain()

    try:
        while True:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
            resp = answerer.answer(await reader.readexactly(n), "tcp")
            if resp is not None:
                t = asyncio.create_task(reply(resp))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    writer.close()


def write_stats(path, stats):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(stats.as_dict(), f)
        f.write("\n")
    os.replace(tmp, path)
    stats.reset()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--zone", default="bench.test")
    ap.add_argument("--a", default="127.0.0.1", help="the A answer (default 127.0.0.1)")
    ap.add_argument("--aaaa", default="", help="the AAAA answer (default: none, an empty NOERROR)")
    ap.add_argument("--ttl", type=int, default=300)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--stats", required=True, help="file the counts go to on SIGUSR1")
    a = ap.parse_args()

    loop = asyncio.get_running_loop()
    stats = Stats()
    answerer = Answerer(a.zone, a.a, a.aaaa, a.ttl, stats)
    delay = a.delay_ms / 1000

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A burst of queries (500 clients × A and AAAA) must not overflow the receive
    # buffer while the loop is busy: a dropped query costs the client a 5 s retry.
    for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if opt is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
            break
        except OSError:
            pass
    sock.bind((a.addr, a.port))
    await loop.create_datagram_endpoint(lambda: Udp(answerer, delay), sock=sock)
    server = await asyncio.start_server(
        lambda r, w: tcp_client(r, w, answerer, delay), a.addr, a.port, backlog=1024)

    loop.add_signal_handler(signal.SIGUSR1, write_stats, a.stats, stats)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"listening on {a.addr}:{a.port}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
