#!/usr/bin/env bash
# Instructions executed per URL (valgrind cachegrind, no cache simulation) by
# two builds of fetcher-stream, A and B, at -c 64 on N URLs with BYTES-byte
# bodies from the bench server: unlike CPU time, the count does not move with
# the other processes on the machine (valgrind runs the threads one at a
# time, so it counts work, not time). W1's shape is N=20000 BYTES=100, W3's
# N=100000 BYTES=10. Loopback only.
# Usage: bench/ir.sh A_BINARY B_BINARY [N=20000] [ROUNDS=1] [BYTES=100]
# Prints one row per run: binary N instructions instructions/URL records-ok.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=$(readlink -f "$1"); B=$(readlink -f "$2"); N=${3:-20000}; ROUNDS=${4:-1}; BYTES=${5:-100}
SERVER=${SERVER:-$ROOT/target/release/examples/bench_server}
[ -x "$SERVER" ] || (cd "$ROOT" && cargo build --release --example bench_server)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ir.XXXX")
taskset -c 0 "$SERVER" --port 0 >"$OUT/server.log" 2>&1 & SPID=$!
trap 'kill $SPID 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$OUT/server.log"); [ -n "$PORT" ] && break; sleep 0.05; done
seq 1 "$N" | sed "s|^|http://127.0.0.1:$PORT/bytes/$BYTES/|" >"$OUT/list.txt"
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"
# One server: no per-host cap (see one_host_flags), so -c 64 is the concurrency.
mapfile -t ONE_A < <(one_host_flags "$A")
mapfile -t ONE_B < <(one_host_flags "$B")
for _ in $(seq "$ROUNDS"); do
  for v in A B; do
    bin=$A one=("${ONE_A[@]}"); [ "$v" = B ] && bin=$B one=("${ONE_B[@]}")
    taskset -c 1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      "$bin" -q -c 64 "${one[@]}" <"$OUT/list.txt" >"$OUT/out.jsonl" 2>"$OUT/vg.txt" || true
    ir=$(sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' "$OUT/vg.txt" | tr -d ,)
    ok=$(grep '"type":"success"' "$OUT/out.jsonl" | grep -c '"status":200,' || true)
    awk -v v="$v" -v n="$N" -v ir="$ir" -v ok="$ok" 'BEGIN { printf "%s\t%d\t%.0f\t%.0f\t%d/%d\n", v, n, ir, ir / n, ok, n }'
  done
done
