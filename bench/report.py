#!/usr/bin/env python3
"""Formats the measurements of bench/run.sh as bench/RESULTS.md.

Inputs (all written by run.sh under target/bench/):
  raw.tsv       one row per timed run: workload tool round n wall user sys
                rss_kib lines ok proto exit server_cpu_s other_cpu_s errors
  commands.tsv  workload tool command (round 1 of each)
  facts.tsv     key value: machine facts, tool versions, run parameters
  extra.tsv     the W5 startup figure and the endless-body RSS check

and, from bench/real.sh, a directory (--real DIR, target/bench/real/) with
  raw.tsv       one row per run, with a header line naming the columns
  commands.tsv  workload tool command (round 1 of each)
  workloads.tsv id n hosts c dns_delay_ms http description
  facts.tsv     key value

    python3 bench/report.py --raw R --commands C --facts F --extra E --out bench/RESULTS.md \
        [--real DIR] [--readme README.md]
    python3 bench/report.py --real DIR --real-only --out bench/RESULTS.md

The real-world shapes form one block of OUT, between `<!-- real-world:start -->`
and `<!-- real-world:end -->`. Without --real the block OUT already has is kept;
with --real-only only that block is replaced (or appended) and the rest of OUT
is left as it is.

With --readme, the table between `<!-- bench:start -->` and `<!-- bench:end -->`
in that file is replaced by the summary table.
"""

import argparse
import csv
import os
import statistics
from collections import OrderedDict, defaultdict

TOOLS = ["fetcher-stream", "oha", "curl --parallel", "xargs curl", "httpx"]
# The peers that, like fetcher-stream, take a list of URLs and report each one.
LIST_PEERS = ["curl --parallel", "xargs curl", "httpx"]
US = "fetcher-stream"


def fnum(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def fratio(x):
    return "—" if x is None else f"{x:.2f}×"


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


class Stat:
    """The rounds of one tool on one workload."""

    def __init__(self, rows):
        self.n = int(rows[0][3])
        self.rounds = len(rows)
        walls = [float(r[4]) for r in rows]
        cpus = [float(r[5]) + float(r[6]) for r in rows]
        rss = [int(r[7]) for r in rows]
        self.wall = statistics.median(walls)
        self.wall_min, self.wall_max = min(walls), max(walls)
        self.cpu = statistics.median(cpus)
        self.rss_max = max(rss) / 1024
        self.rss_med = statistics.median(rss) / 1024
        self.lines = [int(r[8]) for r in rows]
        self.ok = [int(r[9]) for r in rows]
        self.protos = sorted({r[10] for r in rows if r[10] != "-"})
        self.exits = sorted({r[11] for r in rows})
        # The server's share of its core while the client ran (median of the rounds).
        self.srv_busy = statistics.median(float(r[12]) / float(r[4]) for r in rows)
        # CPU used by other processes on the machine meanwhile, as a share of one core.
        self.other = statistics.median(max(0.0, float(r[13])) / float(r[4]) for r in rows)
        other_s = statistics.median(max(0.0, float(r[13])) for r in rows)
        # Ticks are 10 ms and the measuring shell's own helpers count too: only a
        # quarter of a core and 100 ms or more is taken as other load.
        self.noisy = self.other >= 0.25 and other_s >= 0.1
        self.errors = [f"round {r[2]}: {r[14]}" for r in rows if r[14] != "-"]
        self.urls_s = self.n / self.wall if self.wall > 0 else None
        self.cpu_per_k = self.cpu / self.n * 1e6  # ms per 1,000 URLs

    def complete(self):
        return all(x == self.n for x in self.lines) and all(x == self.n for x in self.ok)

    def records_cell(self, tool):
        worst_lines, worst_ok = min(self.lines), min(self.ok)
        src = " (summary)" if tool == "oha" else ""
        if self.complete():
            return f"{fnum(self.n)}/{fnum(self.n)} ok{src}"
        flag = "**FLAG**: "
        if worst_lines != self.n:
            flag += f"{fnum(self.n - worst_lines)} results missing"
        else:
            flag += f"{fnum(self.n - worst_ok)} not 200"
        return f"{fnum(worst_lines)} lines, {fnum(worst_ok)} ok{src} — {flag}"


WORKLOADS = OrderedDict(
    [
        ("W1", "throughput: distinct URLs, 100-byte bodies, plain HTTP"),
        ("W2", "latency-bound: URLs each delayed 50 ms"),
        ("W3-big", "long list: 10-byte bodies (memory must not grow with the list)"),
        ("W3-small", "shorter list: the same, for comparison"),
        ("W4-h1", "HTTPS keep-alive, HTTP/1.1 (the server offers only http/1.1 by ALPN)"),
        ("W4-h2", "HTTPS keep-alive, HTTP/2 (the server offers h2 and http/1.1 by ALPN)"),
    ]
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw")
    ap.add_argument("--commands")
    ap.add_argument("--facts")
    ap.add_argument("--extra")
    ap.add_argument("--out", required=True)
    ap.add_argument("--readme")
    ap.add_argument("--real", help="bench/real.sh's output directory")
    ap.add_argument("--real-only", action="store_true", help="replace only the real-world block of OUT")
    a = ap.parse_args()

    if a.real_only:
        if not a.real:
            ap.error("--real-only needs --real")
        write_real_only(a.out, real_block(a.real))
        return
    for name in ("raw", "commands", "facts", "extra"):
        if getattr(a, name) is None:
            ap.error(f"--{name} is required (or --real-only)")

    facts = OrderedDict((r[0], r[1] if len(r) > 1 else "") for r in read_tsv(a.facts))
    by = defaultdict(list)
    order = []
    for r in read_tsv(a.raw):
        key = (r[0], r[1])
        if key not in by:
            order.append(key)
        by[key].append(r)
    stats = {k: Stat(v) for k, v in by.items()}
    commands = defaultdict(list)
    for r in read_tsv(a.commands):
        commands[r[0]].append((r[1], r[2]))
    extra_rows = read_tsv(a.extra)
    extra = {r[0]: r[1:] for r in extra_rows}
    w2_lat = [float(r[2]) for r in extra_rows if r[0] == "w2_latency"]

    w3b, w3s = facts["w3_big"], facts["w3_small"]
    names = {"W3-big": w3b, "W3-small": w3s}
    ideal = float(facts["w2_ideal_s"])
    quick = facts.get("quick") == "1"

    def st(w, tool):
        return stats.get((names.get(w, w), tool))

    def best_peer(w):
        peers = [(t, st(w, t)) for t in LIST_PEERS if st(w, t)]
        peers = [(t, s) for t, s in peers if s.urls_s]
        return max(peers, key=lambda p: p[1].urls_s) if peers else (None, None)

    out = []
    p = out.append
    p("# Benchmark results")
    p("")
    p(f"Written by `bench/run.sh` on {facts['date']} (commit {facts['commit']}); "
      f"{facts['rounds']} rounds ({facts['fast_rounds']} for fetcher-stream, oha and curl --parallel "
      f"in W1, W2 and W4, which take about a second or less), tools interleaved A B C … within each "
      f"round; {facts['duration_s']} s of measuring (of which {facts.get('quiet_waited_s', '0')} s waiting "
      f"for other processes to quiet down); load average before: {facts['loadavg_before']}.")
    if quick:
        p("")
        p("**QUICK=1 smoke run: short lists, figures not comparable with the targets.**")
    p("")
    p("Reproduce: `bench/run.sh` (about 10 minutes on 2 cores; `QUICK=1 bench/run.sh` for a smoke run).")
    p("")
    p("## Machine")
    p("")
    p("| fact | value |")
    p("|---|---|")
    for k in ["nproc", "cpu", "memory", "kernel", "rustc", "fetcher-stream", "oha", "curl", "xargs",
              "python", "httpx", "hyperfine", "openssl", "time"]:
        p(f"| {k} | {facts.get(k, '?')} |")
    p(f"| pinning | bench server on core {facts['server_cpu']} (one single-threaded runtime), "
      f"every client on core {facts['client_cpu']} (`taskset -c {facts['client_cpu']}`) |")
    p("")

    # ------------------------------------------------------------ targets
    p("## Targets")
    p("")
    p("| target | figure | |")
    p("|---|---|---|")

    def target(name, ok, figure):
        if ok is None:
            p(f"| {name} | {figure} | not measured |")
        else:
            p(f"| {name} | {figure} | {'met' if ok else '**missed**'} |")

    us1, oha1, curl1 = st("W1", US), st("W1", "oha"), st("W1", "curl --parallel")
    if us1 and oha1:
        r = us1.urls_s / oha1.urls_s
        target("W1 ≥ 0.9 × oha", r >= 0.9,
               f"{r:.2f} × ({fnum(us1.urls_s)} vs {fnum(oha1.urls_s)} URLs/s)")
    if us1 and curl1:
        r = us1.urls_s / curl1.urls_s
        target("W1 ≥ 3 × curl --parallel", r >= 3,
               f"{r:.2f} × ({fnum(us1.urls_s)} vs {fnum(curl1.urls_s)} URLs/s)")
    us2 = st("W2", US)
    if us2:
        r = us2.wall / ideal
        ctx = ", ".join(f"{t} {st('W2', t).wall / ideal:.2f}" for t in TOOLS[1:] if st("W2", t))
        floor = ""
        if w2_lat:
            waves = int(facts["w2_waves"])
            lat = statistics.median(w2_lat)
            f = waves * lat / 1000
            floor = (f"; the server's floor: {waves} waves × {lat:.1f} ms median request = "
                     f"{f:.3f} s = {f / ideal:.3f} × ideal, so fetcher-stream is {us2.wall / f:.3f} × that")
        target("W2 wall ≤ 1.04 × ideal", r <= 1.04,
               f"{r:.3f} × ({us2.wall:.3f} s vs {ideal:.2f} s ideal; others: {ctx}{floor})")
    usb, uss = st("W3-big", US), st("W3-small", US)
    if usb:
        target(f"W3 peak RSS ≤ 12 MiB at {w3b}", usb.rss_max <= 12, f"{usb.rss_max:.1f} MiB (max of rounds)")
    if usb and uss:
        g = (usb.rss_max - uss.rss_max) / uss.rss_max
        target(f"W3 RSS at {w3b} within 10 % of {w3s}", abs(g) <= 0.10,
               f"{g * 100:+.1f} % ({usb.rss_max:.1f} vs {uss.rss_max:.1f} MiB)")
    for w, label in [("W4-h1", "HTTP/1.1"), ("W4-h2", "HTTP/2")]:
        u, o = st(w, US), st(w, "oha")
        if u and o:
            r = u.urls_s / o.urls_s
            target(f"W4 {label} ≥ 0.8 × oha", r >= 0.8,
                   f"{r:.2f} × ({fnum(u.urls_s)} vs {fnum(o.urls_s)} URLs/s)")
    if "w5" in extra:
        ms = float(extra["w5"][0])
        target("W5 startup ≤ 10 ms", ms <= 10, f"{ms:.2f} ms median")
    if "endless" in extra:
        e = extra["endless"]
        verdict, rss_kib = e[0], int(e[4])
        lim = facts["rss_limit_mib"]
        p(f"| endless bodies, peak RSS < {lim} MiB | {rss_kib / 1024:.1f} MiB, "
          f"{e[5]} records ({e[6]} cancelled) | **{verdict}** |")
    p("")
    p("Ratios are of URLs/s (higher is better) from the median wall time; RSS is the largest "
      "of the rounds.")
    p("")
    noisy = [f"{names.get(w, w)} {t} ({st(w, t).other * 100:.0f} %)" for w in WORKLOADS for t in TOOLS
             if st(w, t) and st(w, t).noisy]
    if noisy or int(facts.get("busy_before", "0")) > 20:
        p(f"**Noise:** other processes on the machine used CPU during some runs (a quarter of a core "
          f"and 100 ms or more, median over the rounds): {', '.join(noisy) or 'none'}; before the run "
          f"{facts.get('busy_before', '?')} % of a core was busy. Those figures are less firm; "
          f"rerun on a quiet machine to confirm them.")
        p("")

    # ------------------------------------------------------------ workloads
    p("## Results")
    p("")
    p("Wall: median of the rounds (min–max in the notes when they differ by over 10 %), "
      "timed with nanosecond clocks around the process. "
      "URLs/s = URLs / median wall. CPU = user + sys of the client (all its processes), median. "
      "Peak RSS = `/usr/bin/time` %M, largest round: the largest single process of the client "
      "(for `xargs curl`, one curl, not the sum). Records = result lines counted in the tool's "
      "output / how many said 200, worst round; a shortfall is flagged. × oha and × best peer "
      "compare URLs/s; the best peer is the fastest of curl --parallel, xargs curl and httpx "
      "(the tools that, like fetcher-stream, take a URL list and report every URL). "
      "Server core: the CPU the bench server used during the run / wall (median): near 100 % "
      "the server, not the client, was the limit.")
    p("")
    for w, title in WORKLOADS.items():
        wn = names.get(w, w)
        rows = [(t, st(w, t)) for t in TOOLS if st(w, t)]
        if not rows:
            continue
        n = rows[0][1].n if rows[0][0] == US else max(s.n for _, s in rows)
        us = st(w, US)
        if us:
            n = us.n
        oha = st(w, "oha")
        bp_name, bp = best_peer(w)
        p(f"### {wn}: {title}")
        p("")
        conc = {"W1": 64, "W2": 100}.get(w, 64)
        extra_hdr = " × ideal |" if w == "W2" else ""
        p(f"{fnum(n)} URLs, concurrency {conc}."
          + (f" Ideal wall: {ideal:.2f} s." if w == "W2" else "")
          + (f" Best peer: {bp_name}." if bp_name else ""))
        p("")
        p("| tool | rounds | wall s | URLs/s | CPU s | CPU ms / 1k URLs | peak RSS MiB | records | proto |"
          " × oha | × best peer |" + extra_hdr + " server core | notes |")
        p("|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|" + ("---:|" if w == "W2" else "") + "---:|---|")
        for t, s in rows:
            label = t if t != "oha" or s.n == n else f"oha (-n {fnum(s.n)})"
            notes = []
            if s.wall_max > 1.1 * s.wall_min:
                notes.append(f"wall {s.wall_min:.2f}–{s.wall_max:.2f}")
            if t == "oha":
                notes.append("one URL, no per-URL output")
            if s.exits != ["0"]:
                notes.append("exit " + ",".join(s.exits))
            if s.errors:
                notes.append("not 200: " + "; ".join(s.errors))
            if s.noisy:
                notes.append(f"other processes used {s.other * 100:.0f} % of a core meanwhile")
            x_oha = s.urls_s / oha.urls_s if oha and oha.urls_s and s.urls_s else None
            x_bp = s.urls_s / bp.urls_s if bp and bp.urls_s and s.urls_s else None
            tname = f"**{t}**" if t == US else label
            cells = [tname, str(s.rounds), f"{s.wall:.3f}", fnum(s.urls_s), f"{s.cpu:.2f}",
                     f"{s.cpu_per_k:.1f}", f"{s.rss_max:.1f}", s.records_cell(t),
                     "/".join(s.protos) or "—", fratio(x_oha), fratio(x_bp)]
            if w == "W2":
                cells.append(f"{s.wall / ideal:.3f}")
            cells.append("—" if s.srv_busy is None else f"{s.srv_busy * 100:.0f} %")
            cells.append("; ".join(notes))
            p("| " + " | ".join(cells) + " |")
        skipped = [t for t in TOOLS if not st(w, t)]
        if skipped:
            p("")
            if w == "W3-big":
                small = {t: st("W3-small", t) for t in skipped}
                est = []
                for t in skipped:
                    sm = small.get(t)
                    if sm:
                        scale = usb.n / sm.n if usb else 10
                        secs = sm.wall * scale
                        est.append(f"{t} ≈ {secs / 60:.0f} min" if secs >= 120 else f"{t} ≈ {secs:.0f} s")
                p("Not run at this length (the wall per round, scaled from the shorter list: "
                  + (", ".join(est) if est else "minutes per round") + "): "
                  + ", ".join(skipped) + ". oha runs at "
                  + fnum(int(facts["w3_oha_big"])) + " requests to show how its memory grows (it keeps every result).")
            else:
                p("Not run: " + ", ".join(skipped) + ".")
        if w == "W3-small":
            few = [t for t, s in rows if s.rounds < int(facts["rounds"])]
            if few:
                p("")
                p(", ".join(few) + f": {facts['w3_peer_rounds']} round(s) only (`W3_PEER_ROUNDS`), "
                  "to keep the run short; their wall is that round's.")
        p("")

    # ------------------------------------------------------------ W5 and RSS
    if "w5" in extra:
        ms, rss, how, cmd = extra["w5"]
        p("### W5: startup")
        p("")
        p(f"`fetcher-stream < /dev/null`: median **{float(ms):.2f} ms** ({how}); peak RSS "
          f"{int(rss) / 1024:.1f} MiB.")
        p("")
        p(f"    {cmd}")
        p("")
    if "endless" in extra:
        verdict, wall, user, sys_, rss, lines, cancelled, rc, srv_ticks, cmd = extra["endless"]
        p("### Memory under endless bodies")
        p("")
        p(f"{lines} URLs to `/endless` (16 KiB chunks, no end) at `-t 60`, SIGINT after "
          f"{float(wall):.1f} s: peak RSS **{int(rss) / 1024:.1f} MiB** (limit {facts['rss_limit_mib']} MiB), "
          f"client CPU {float(user) + float(sys_):.2f} s, server CPU {int(srv_ticks) / 100:.2f} s "
          f"(bodies were streaming), {lines} records ({cancelled} `cancelled`), exit {rc}: **{verdict}**.")
        p("")
        p(f"    {cmd}")
        p("")

    # ------------------------------------------------------------ commands
    p("## Exact commands")
    p("")
    p(f"Servers: `taskset -c {facts['server_cpu']} target/release/examples/bench_server --port 0 "
      "[--tls target/bench/tls/server.pem target/bench/tls/server.key [--http1-only]]` "
      f"({facts['ports']}). Each command below runs as `/usr/bin/time -f '%e %U %S %M' COMMAND`, "
      "stdout to a file that is then counted. "
      "Test CA and server certificate (P-256, SAN IP:127.0.0.1) made with the openssl CLI.")
    p("")
    p("URL lists under target/bench/: " + facts["lists"] + ".")
    p("")
    for w in WORKLOADS:
        wn = names.get(w, w)
        if wn not in commands:
            continue
        p(f"{wn}:")
        p("")
        p("```sh")
        for tool, cmd in commands[wn]:
            p(f"# {tool}")
            p(cmd)
        p("```")
        p("")

    # ------------------------------------------------------------ notes
    p("## Notes on method")
    p("")
    p("- oha is a load generator: it sends `-n N` requests to one URL over `-c C` connections "
      "and prints only a summary, so it parses no URL list and writes no line per URL; its "
      "record count comes from its JSON summary. It runs its default worker threads "
      "(physical cores), on the one pinned core. For W4 HTTP/2 it runs one connection with 64 "
      "streams (`-c 1 -p 64`), as fetcher-stream and curl multiplex over one connection.")
    p("- curl --parallel reads a config file with a `url` and an `output = \"/dev/null\"` line "
      "per URL (curl 7.88 has no `--url @file`); its `-w` line per transfer is the record.")
    p("- xargs curl runs `xargs -P C -n K curl`, K = min(50, N/C) so that all C processes are "
      "busy. curl's `-o` names the output of one URL only, so a small `sh -c` wrapper "
      "gives each URL its own `-o /dev/null`; each curl writes its `-w` lines to stdout in one "
      "block at exit, so lines of different processes do not interleave (with `%{stderr}` they did).")
    p("- httpx is bench/httpx_ref.py: AsyncClient (connection limit C) + Semaphore(C) + "
      "TaskGroup, one task per URL, `asyncio.timeout` per request, stdlib asyncio event loop.")
    p("- Every client is pinned to one core and the server to the other, so each tool has the "
      "same one-core budget; the server is the same for all tools.")
    block = real_block(a.real) if a.real else existing_real_block(a.out)
    if block:
        out.append("")
        out.append(block)
    out_text = "\n".join(out) + "\n"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(out_text)

    if a.readme:
        update_readme(a.readme, summary_table(st, names, ideal, facts, extra))


def summary_table(st, names, ideal, facts, extra):
    """The compact table for the README: URLs/s and peak RSS per workload and tool."""
    lines = ["| workload | " + " | ".join(TOOLS) + " |", "|---|" + "---:|" * len(TOOLS)]
    labels = {
        "W1": "W1 20k × 100 B, c=64",
        "W2": f"W2 2k × 50 ms, c=100 (ideal {ideal:.1f} s)",
        "W3-big": f"W3 {names['W3-big'][3:]} × 10 B, c=64",
        "W3-small": f"W3 {names['W3-small'][3:]} × 10 B, c=64",
        "W4-h1": "W4 5k HTTPS HTTP/1.1, c=64",
        "W4-h2": "W4 5k HTTPS HTTP/2, c=64",
    }
    for w, label in labels.items():
        cells = []
        for t in TOOLS:
            s = st(w, t)
            if not s:
                cells.append("—")
            elif w == "W2":
                cells.append(f"{s.wall:.2f} s, {s.rss_max:.0f} MiB")
            else:
                extra_n = f" (n={s.n // 1000}k)" if t == "oha" and w == "W3-big" else ""
                cells.append(f"{fnum(s.urls_s)}/s, {s.rss_max:.0f} MiB{extra_n}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if "w5" in extra:
        lines.append(f"| W5 startup (median) | {float(extra['w5'][0]):.1f} ms | | | | |")
    return "\n".join(lines)


# ---------------------------------------------------------------- real-world shapes

REAL_START, REAL_END = "<!-- real-world:start -->", "<!-- real-world:end -->"
REAL_TOOLS = ["fetcher-stream", "curl --parallel", "aiohttp"]


class RealStat:
    """The rounds of one tool on one real-world workload (rows of raw.tsv as dicts)."""

    def __init__(self, rows):
        def med(k):
            return statistics.median(float(r[k]) for r in rows)

        self.rounds = len(rows)
        self.n = int(rows[0]["n"])
        walls = [float(r["wall"]) for r in rows]
        self.wall, self.wall_min, self.wall_max = statistics.median(walls), min(walls), max(walls)
        self.cpu = statistics.median(float(r["user"]) + float(r["sys"]) for r in rows)
        self.rss = max(int(r["rss_kib"]) for r in rows) / 1024
        self.fds = max(int(r["fds_peak"]) for r in rows)
        self.threads = max(int(r["threads_peak"]) for r in rows)
        self.tcp = med("tcp_opens")
        self.dns = med("dns_total")
        self.dns_a, self.dns_aaaa = med("dns_a"), med("dns_aaaa")
        self.dns_inflight = max(int(r["dns_inflight_max"]) for r in rows)
        self.udp_drops = max(int(r["udp_rcvbuf_errors"]) for r in rows)
        self.records = min(int(r["records"]) for r in rows)
        self.ok = min(int(r["ok"]) for r in rows)
        self.failures = max(int(r["failures"]) for r in rows)
        self.protos = sorted({r["proto"] for r in rows if r["proto"] != "-"})
        self.exits = sorted({r["exit"] for r in rows})
        self.errors = [f"round {r['round']}: {r['errors']}" for r in rows if r["errors"] != "-"]
        self.srv_busy = statistics.median(float(r["server_cpu"]) / float(r["wall"]) for r in rows)
        self.other = statistics.median(max(0.0, float(r["other_cpu"])) / float(r["wall"]) for r in rows)
        self.noisy = self.other >= 0.25 and med("other_cpu") >= 0.1
        # Records per second: the same as URLs / wall when every URL gave a record,
        # and not inflated when a run was stopped by the time limit.
        self.urls_s = self.records / self.wall if self.wall > 0 and self.records else None

    def records_cell(self):
        if self.records == self.n and self.ok == self.n:
            return f"{fnum(self.n)}/{fnum(self.n)} ok"
        miss = self.n - self.records
        flag = f"**FLAG**: {fnum(miss)} missing" if miss else f"**FLAG**: {fnum(self.n - self.ok)} not ok"
        return f"{fnum(self.records)}, {fnum(self.ok)} ok — {flag}"


def real_block(d):
    """The real-world shapes as one Markdown block (between the markers)."""
    facts = OrderedDict((r[0], r[1] if len(r) > 1 else "") for r in read_tsv(os.path.join(d, "facts.tsv")))
    with open(os.path.join(d, "raw.tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by = defaultdict(list)
    for r in rows:
        by[(r["workload"], r["tool"])].append(r)
    stats = {k: RealStat(v) for k, v in by.items()}
    wls = [dict(zip(["id", "n", "hosts", "c", "delay", "http", "desc"], r))
           for r in read_tsv(os.path.join(d, "workloads.tsv"))]
    commands = defaultdict(list)
    for r in read_tsv(os.path.join(d, "commands.tsv")):
        commands[r[0]].append((r[1], r[2]))
    tools = [t for t in REAL_TOOLS if any(k[1] == t for k in stats)]

    out = [REAL_START]
    p = out.append
    p("## Real-world shapes")
    p("")
    p(f"Written by `bench/run.sh` (`ONLY=real bench/run.sh` for this part alone) on {facts['date']} "
      f"(commit {facts['commit']}); {facts['rounds']} round(s) per tool, tools in turn within each "
      f"workload; {facts['duration_s']} s of measuring (of which {facts.get('quiet_waited_s', '0')} s "
      "waiting for other processes to quiet down).")
    if facts.get("quick") == "1":
        p("")
        p("**QUICK=1 smoke run: short lists, figures not comparable with the full run.**")
    p("")
    p(f"Everything runs in one private network and mount namespace (`{facts['unshare']}`, only `lo`): "
      "bench/dns_server.py on 127.0.0.1:53 (A 127.0.0.1 for `*.bench.test`, an empty AAAA answer, "
      f"NXDOMAIN elsewhere; each answer {facts['delay_ms']} ms after its query unless a workload says "
      "otherwise, without holding up other queries), the namespace's own `/etc/resolv.conf` "
      "(`nameserver 127.0.0.1`), `/etc/hosts` (localhost) and `/etc/nsswitch.conf` (`hosts: files dns`) "
      f"bind-mounted; {facts['nginx']} on 127.0.0.1:443 (`{facts['listen']}`, TLS 1.2/1.3 with a "
      "`*.bench.test` certificate from the test CA, h2 and http/1.1 by ALPN, one worker, "
      f"keepalive_requests 10,000,000, a {facts['body_bytes']}-byte body for any path). nginx and the DNS "
      f"server run on core {facts['server_cpu']}, every client on core {facts['client_cpu']}. "
      f"Open-file limit {facts['nofile']}. Tools: {facts['fetcher-stream']}; {facts['curl']}; "
      f"{facts['aiohttp']}.")
    p("")

    def st(w, t):
        return stats.get((w, t))

    # ------------------------------------------------------------ ratios
    p("| ratio | " + " | ".join(tools) + " |")
    p("|---|" + "---:|" * len(tools))
    for w in wls:
        wid = w["id"]
        if wid.startswith("W6"):
            curl = st(wid, "curl --parallel")
            cells = []
            for t in tools:
                s = st(wid, t)
                cells.append(fratio(s.urls_s / curl.urls_s) if s and curl and s.urls_s and curl.urls_s else "—")
            p(f"| {wid}: URLs/s ÷ curl's | " + " | ".join(cells) + " |")
    for w in wls:
        if w["id"] == "W7":
            p("| W7: TCP connections opened | "
              + " | ".join(fnum(st("W7", t).tcp) if st("W7", t) else "—" for t in tools) + " |")
    for w in wls:
        if w["id"].startswith("W8"):
            hosts = int(w["hosts"])
            p(f"| {w['id']}: DNS queries per host | "
              + " | ".join(f"{st(w['id'], t).dns / hosts:.2f}" if st(w["id"], t) else "—" for t in tools) + " |")
    p("")
    p("W6 ratios: URLs/s (from the median wall) of each tool ÷ curl --parallel's. DNS queries per host: "
      "queries the DNS server received during the run ÷ distinct hosts in the list; a getaddrinfo "
      "call asks for A and AAAA, so one lookup per host is 2.")
    p("")

    noisy = [f"{w} {t} ({s.other * 100:.0f} %)" for (w, t), s in stats.items() if s.noisy]
    if noisy:
        p(f"**Noise:** other processes on the machine used CPU during {len(noisy)} of {len(stats)} runs "
          "(a quarter of a core and 100 ms or more): " + ", ".join(noisy) + ". Wall times and the "
          "W6 ratios of those runs are less firm (a tool that does more CPU work per URL loses more "
          "to a busy machine); the counts (connections, DNS queries, descriptors, records) do not "
          "depend on it. Rerun on a quiet machine to confirm the times.")
        p("")

    # ------------------------------------------------------------ tables
    p("Columns: wall (median of the rounds), URLs/s = records / wall (= URLs / wall unless records "
      "are missing), CPU = user + sys of the client; "
      "peak RSS = `/usr/bin/time` %M (largest round); peak fds / threads = the most descriptors "
      "(entries of `/proc/PID/fd`) and threads the client held at once, sampled every 10 ms (a lower bound; 0 when the run ended before the first sample); TCP "
      "conns = the namespace's Tcp ActiveOpens (`/proc/net/snmp`) after the run minus before; DNS "
      "queries = queries the DNS server received during the run (A / AAAA); records = result lines "
      "/ how many said 200 (worst round); failures = transport failures (fetcher-stream and aiohttp: "
      "`\"type\":\"failure\"`, curl: status 000); server core = CPU of nginx and the DNS server / wall.")
    p("")
    for w in wls:
        wid = w["id"]
        rows_ = [(t, st(wid, t)) for t in tools if st(wid, t)]
        if not rows_:
            continue
        curl = st(wid, "curl --parallel")
        http = "HTTP/1.1 forced (`--http1.1`)" if w["http"] == "--http1.1" else "h2 offered by ALPN"
        p(f"### {wid}: {w['desc']}")
        p("")
        p(f"{fnum(int(w['n']))} URLs over {fnum(int(w['hosts']))} host name(s), concurrency {w['c']}, "
          f"DNS answers after {w['delay']} ms, {http}.")
        p("")
        p("| tool | wall s | URLs/s | × curl | CPU s | peak RSS MiB | peak fds | peak threads | TCP conns "
          "| DNS queries (A / AAAA) | most DNS queries waiting | records | failures | proto | server core | notes |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|")
        for t, s in rows_:
            notes = []
            if s.wall_max > 1.1 * s.wall_min:
                notes.append(f"wall {s.wall_min:.2f}–{s.wall_max:.2f}")
            if s.exits != ["0"]:
                notes.append("exit " + ",".join(s.exits) + (" (124: stopped by the time limit)" if "124" in s.exits else ""))
            if s.errors:
                notes.append("not ok: " + "; ".join(s.errors))
            if s.udp_drops:
                notes.append(f"{s.udp_drops} DNS queries dropped (UDP receive buffer full)")
            if t == "aiohttp" and w["http"] != "--http1.1":
                notes.append("HTTP/1.1 only")
            if s.noisy:
                notes.append(f"other processes used {s.other * 100:.0f} % of a core meanwhile")
            x = fratio(s.urls_s / curl.urls_s) if curl and curl.urls_s and s.urls_s else "—"
            cells = [f"**{t}**" if t == US else t, f"{s.wall:.3f}", fnum(s.urls_s), x, f"{s.cpu:.2f}",
                     f"{s.rss:.1f}", fnum(s.fds), fnum(s.threads), fnum(s.tcp),
                     f"{fnum(s.dns)} ({fnum(s.dns_a)} / {fnum(s.dns_aaaa)})", fnum(s.dns_inflight),
                     s.records_cell(), fnum(s.failures), "/".join(s.protos) or "—",
                     f"{s.srv_busy * 100:.0f} %", "; ".join(notes)]
            p("| " + " | ".join(cells) + " |")
        p("")

    # ------------------------------------------------------------ commands and notes
    p("### Exact commands (real-world shapes)")
    p("")
    p("Each runs as `/usr/bin/time -f '%e %U %S %M' timeout -k 5 "
      f"{facts['timeout_s']} COMMAND` inside the namespace, stdout to a file that is then counted "
      "(bench/count_records.py). URL lists under target/bench/real/lists/: w6-small.txt and "
      "w6-big.txt (`https://hI.bench.test/`, I = 1 … N), w7.txt (`https://one.bench.test/I`), "
      "w8.txt (`https://hH.bench.test/pP`, every host's p1, then every host's p2, …); *.curlcfg: "
      "a `url` and an `output = \"/dev/null\"` line per URL.")
    p("")
    for w in wls:
        if w["id"] not in commands:
            continue
        p(f"{w['id']}:")
        p("")
        p("```sh")
        for tool, cmd in commands[w["id"]]:
            p(f"# {tool}")
            p(cmd)
        p("```")
        p("")
    p("### Notes on method (real-world shapes)")
    p("")
    p("- The DNS server answers each query after the delay by a timer on its event loop, so "
      "lookups in flight do not queue behind each other; \"most DNS queries waiting\" is the most "
      "it held at once during the run, a view of how many lookups the client had in flight.")
    p("- fetcher-stream and curl resolve with getaddrinfo (fetcher-stream on tokio's blocking "
      "threads, curl in a thread per lookup); glibc does not cache, so every lookup reaches the "
      "DNS server. aiohttp resolves with getaddrinfo in the event loop's default executor, sized "
      "here to -c threads (Python's default is min(32, cores + 4)), and caches answers per host "
      "(`ttl_dns_cache` longer than the run), sharing one lookup among the requests waiting for it.")
    p("- curl runs as the classic workloads do: `--parallel --parallel-max C --parallel-immediate` "
      "(immediate: open new connections rather than wait to multiplex on one) with a config file "
      "of URLs and one `-w` line per transfer.")
    p("- aiohttp (bench/aiohttp_ref.py) speaks HTTP/1.1 only; it takes a Semaphore(C) slot before "
      "making each URL's task, over one `TCPConnector(limit=C)`.")
    p("- Every client gets the same `-t 30` / `--max-time 30` per URL and the same open-file limit.")
    p("- TCP connections are counted for the whole namespace; only the client opens connections "
      "there (the DNS lookups go over UDP).")
    p(REAL_END)
    return "\n".join(out)


def existing_real_block(path):
    """The real-world block of the report at PATH, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    if REAL_START in text and REAL_END in text:
        return text[text.index(REAL_START):text.index(REAL_END) + len(REAL_END)]
    return None


def write_real_only(path, block):
    """Replaces the real-world block of PATH (or appends it), keeping the rest."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n"
    if REAL_START in text and REAL_END in text:
        a, b = text.index(REAL_START), text.index(REAL_END) + len(REAL_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def update_readme(path, table):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no {start} … {end} block to update")
    a = text.index(start) + len(start)
    b = text.index(end)
    text = text[:a] + "\n" + table + "\n" + text[b:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
