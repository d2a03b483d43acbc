#!/usr/bin/env bash
# Two builds of fetcher-stream, A and B, on bench/run.sh's W1 (20,000 URLs,
# 100-byte bodies) and W3 (100,000 and 1,000,000 URLs, 10-byte bodies), at
# -c 64 and with no other flag: the figures for "before and after" a change.
# Runs are interleaved (round r: A B when r is odd, B A when even), the bench
# server (examples/bench_server.rs) pinned to core 0 and the client to core
# 1. User+sys CPU comes from wait4's rusage (bench/timed.py; /usr/bin/time
# prints CPU in 10 ms steps, too coarse for W1's ~0.3 s), peak RSS from
# /usr/bin/time's %M. Loopback only (127.0.0.1 URLs).
#
# Usage: bench/ab.sh A_BINARY B_BINARY [OUTDIR]
#   env: SERVER=bench server binary (default: target/release/examples/bench_server,
#          built with `cargo build --release --example bench_server`)
#        W1_ROUNDS=7 W3S_ROUNDS=5 W3B_ROUNDS=3  W1_N=20000 W3S_N=100000 W3B_N=1000000 C=64
#        ONLY="W1 W3-100k W3-1M" (a subset of the workloads)
#        QUIET_WAIT=60 QUIET_BUDGET=240 (before each round, wait up to QUIET_WAIT
#          seconds, QUIET_BUDGET in all, for other processes to use under 20 % of a core)
# Output: OUTDIR/raw.tsv (one row per run) and, on stdout, one table row per
# workload and binary (medians, [min-max]) and the paired per-round ratios B/A.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(readlink -f "${1:?usage: bench/ab.sh A_BINARY B_BINARY [OUTDIR]}")
BIN_B=$(readlink -f "${2:?usage: bench/ab.sh A_BINARY B_BINARY [OUTDIR]}")
OUT=${3:-$ROOT/target/bench/ab-$(date +%Y%m%d-%H%M%S)}
SERVER=${SERVER:-$ROOT/target/release/examples/bench_server}
[ -x "$SERVER" ] || (cd "$ROOT" && cargo build --release --example bench_server)
W1_ROUNDS=${W1_ROUNDS:-7} W3S_ROUNDS=${W3S_ROUNDS:-5} W3B_ROUNDS=${W3B_ROUNDS:-3}
W1_N=${W1_N:-20000} W3S_N=${W3S_N:-100000} W3B_N=${W3B_N:-1000000} C=${C:-64}
ONLY=${ONLY:-"W1 W3-100k W3-1M"}
SERVER_CPU=0 CLIENT_CPU=1
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
CLK_TCK=$(getconf CLK_TCK)
# CPU and peak RSS from wait4's rusage (µs resolution; /usr/bin/time prints %U/%S
# in 10 ms steps, too coarse for W1's ~0.3 s of CPU).
TIMED=$(dirname "$(readlink -f "$0")")/timed.py
log() { printf '[ab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"

SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null || true' EXIT
taskset -c "$SERVER_CPU" "$SERVER" --port 0 >"$OUT/server.log" 2>&1 &
SPID=$!
PORT=
for _ in $(seq 100); do
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$OUT/server.log")
  [ -n "$PORT" ] && break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "server did not start: $(cat "$OUT/server.log")" >&2; exit 1; }
HTTP=http://127.0.0.1:$PORT

urls() { seq 1 "$2" | sed "s|^|$3/|" >"$1"; }
urls "$OUT/w1.txt" "$W1_N" "$HTTP/bytes/100"
urls "$OUT/w3s.txt" "$W3S_N" "$HTTP/bytes/10"
urls "$OUT/w3b.txt" "$W3B_N" "$HTTP/bytes/10"
urls "$OUT/warm.txt" 200 "$HTTP/bytes/100"

srv_ticks() { awk '{ print $14 + $15 }' "/proc/$SPID/stat"; }

{
  echo "# $(date -u '+%F %T UTC')"
  echo "# A: $BIN sha256=$(sha256sum "$BIN" | cut -c1-16)"
  echo "# B: $BIN_B sha256=$(sha256sum "$BIN_B" | cut -c1-16)"
  echo "# uptime at start: $(uptime)"
  echo "# each run: taskset -c $CLIENT_CPU BINARY -q -c $C [--max-per-host 0] < LIST"
  printf 'workload\tvariant\tround\tn\twall_s\tuser_s\tsys_s\trss_kib\tlines\tok\trc\tserver_cpu_s\tother_cpu_s\n'
} >"$RAW"
log "server :$PORT, out $OUT; $(uptime)"

# run W VARIANT ROUND N LIST
run() {
  local w=$1 v=$2 r=$3 n=$4 list=$5 rc=0 bin=$BIN one=("${ONE_A[@]}")
  [ "$v" = B ] && bin=$BIN_B && one=("${ONE_B[@]}")
  local s0 s1 b0 b1 user sys rss wall lines ok srv other
  b0=$(busy_ticks); s0=$(srv_ticks)
  python3 "$TIMED" "$OUT/time.txt" taskset -c "$CLIENT_CPU" "$bin" -q -c "$C" "${one[@]}" \
    <"$list" >"$OUT/out.jsonl" 2>"$OUT/err.txt" || rc=$?
  s1=$(srv_ticks); b1=$(busy_ticks)
  read -r wall user sys rss < <(tail -n 1 "$OUT/time.txt")
  srv=$(awk "BEGIN { printf \"%.2f\", ($s1 - $s0) / $CLK_TCK }")
  other=$(awk "BEGIN { printf \"%.2f\", ($b1 - $b0) / $CLK_TCK - $srv - $user - $sys }")
  lines=$(wc -l <"$OUT/out.jsonl")
  ok=$({ grep '"type":"success"' "$OUT/out.jsonl" || true; } | grep -c '"status":200,' || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$v" "$r" "$n" "$wall" "$user" "$sys" "$rss" \
    "$lines" "$ok" "$rc" "$srv" "$other" >>"$RAW"
  log "$w $v r$r: ${wall}s wall, $(awk "BEGIN { print $user + $sys }")s cpu, $((rss / 1024)) MiB, $ok/$n ok ($lines lines, rc $rc), server ${srv}s, other ${other}s"
}

# One server: no per-host cap, so -c alone sets the concurrency (each
# binary's own way of saying so; see one_host_flags).
mapfile -t ONE_A < <(one_host_flags "$BIN")
mapfile -t ONE_B < <(one_host_flags "$BIN_B")

# Warm-up (untimed), both binaries.
"$BIN" -q -c 4 <"$OUT/warm.txt" >/dev/null || true
"$BIN_B" -q -c 4 <"$OUT/warm.txt" >/dev/null || true

pair() { # W ROUNDS N LIST
  local w=$1 rounds=$2 n=$3 list=$4 r
  for r in $(seq "$rounds"); do
    wait_quiet
    if [ $((r % 2)) = 1 ]; then
      run "$w" A "$r" "$n" "$list"; run "$w" B "$r" "$n" "$list"
    else
      run "$w" B "$r" "$n" "$list"; run "$w" A "$r" "$n" "$list"
    fi
  done
}
for w in $ONLY; do
  case $w in
    W1) pair W1 "$W1_ROUNDS" "$W1_N" "$OUT/w1.txt" ;;
    W3-100k) pair W3-100k "$W3S_ROUNDS" "$W3S_N" "$OUT/w3s.txt" ;;
    W3-1M) pair W3-1M "$W3B_ROUNDS" "$W3B_N" "$OUT/w3b.txt" ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
done
echo "# uptime at end: $(uptime)" >>"$RAW"
log "done; $(uptime)"
rm -f "$OUT/out.jsonl" "$OUT/w3b.txt"

python3 - "$RAW" <<'EOF'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
hdr, rows = rows[0], rows[1:]
R = [dict(zip(hdr, r)) for r in rows]
groups = {}
for r in R:
    groups.setdefault((r["workload"], r["variant"]), []).append(r)
print("| workload | binary | runs | wall s median [min–max] | CPU µs/URL median [min–max] | peak RSS MiB median [max] | records ok/N (all runs) | other-CPU s median |")
print("|---|---|---|---|---|---|---|---|")
med = {}
for (w, v), rs in groups.items():
    n = int(rs[0]["n"])
    wall = [float(r["wall_s"]) for r in rs]
    cpu = [(float(r["user_s"]) + float(r["sys_s"])) / n * 1e6 for r in rs]
    rss = [int(r["rss_kib"]) / 1024 for r in rs]
    oth = [float(r["other_cpu_s"]) for r in rs]
    allok = all(int(r["ok"]) == n and int(r["lines"]) == n and r["rc"] == "0" for r in rs)
    okmin = min(int(r["ok"]) for r in rs)
    med[(w, v)] = (st.median(wall), st.median(cpu))
    print(f"| {w} | {v} | {len(rs)} | {st.median(wall):.3f} [{min(wall):.3f}–{max(wall):.3f}] | "
          f"{st.median(cpu):.2f} [{min(cpu):.2f}–{max(cpu):.2f}] | {st.median(rss):.1f} [{max(rss):.1f}] | "
          f"{'all ' + str(n) + '/' + str(n) if allok else 'MISMATCH min ok ' + str(okmin) + '/' + str(n)} | {st.median(oth):.2f} |")
for w in dict.fromkeys(k[0] for k in med):
    if (w, "A") in med and (w, "B") in med:
        (wa, ca), (wb, cb) = med[(w, "A")], med[(w, "B")]
        # paired: per round ratio B/A
        pr = {}
        for r in R:
            if r["workload"] == w:
                pr.setdefault(r["round"], {})[r["variant"]] = r
        wr = [float(p["B"]["wall_s"]) / float(p["A"]["wall_s"]) for p in pr.values() if len(p) == 2]
        cr = [(float(p["B"]["user_s"]) + float(p["B"]["sys_s"])) / (float(p["A"]["user_s"]) + float(p["A"]["sys_s"])) for p in pr.values() if len(p) == 2]
        print(f"# {w}: B/A medians: wall {wb/wa-1:+.1%}, CPU/URL {cb/ca-1:+.1%}; "
              f"paired per-round ratios: wall median {st.median(wr)-1:+.1%} [{min(wr)-1:+.1%}..{max(wr)-1:+.1%}], "
              f"CPU median {st.median(cr)-1:+.1%} [{min(cr)-1:+.1%}..{max(cr)-1:+.1%}]")
EOF
