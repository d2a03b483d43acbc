#!/usr/bin/env bash
# Head-of-line benchmark for --max-per-host. Loopback only.
#
# Starts two bench servers (examples/bench_server.rs), one per host: the
# "slow" one is asked for /delay/$DELAY_MS, the "fast" one for /bytes/10.
# Then it times fetcher-stream on:
#   1. the slow share alone:           $SLOW slow URLs, -c 20 --max-per-host 2
#   2. mixed, with --max-per-host 2:   $SLOW slow + $FAST fast, interleaved
#   3. mixed, plain -c 20:             the same list, --max-per-host 0 (no cap)
# and prints the wall times (median of $ROUNDS runs) and the record counts.
# With a per-host cap of 2 the slow share needs $SLOW/2 rounds of $DELAY_MS,
# so (2) should take about as long as (1): the fast URLs fill the other slots.
#
# Environment: SLOW=1000 FAST=1000 DELAY_MS=50 ROUNDS=3 PROFILE=release
set -euo pipefail
cd "$(dirname "$0")/.."

SLOW=${SLOW:-1000}
FAST=${FAST:-1000}
DELAY_MS=${DELAY_MS:-50}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-release}

if [ "$PROFILE" = release ]; then
  cargo build --release --bin fetcher-stream --example bench_server >&2
  DIR=target/release
else
  cargo build --bin fetcher-stream --example bench_server >&2
  DIR=target/debug
fi
BIN=$DIR/fetcher-stream
SERVER=$DIR/examples/bench_server

TMP=$(mktemp -d "${TMPDIR:-/tmp}/per-host-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Starts a bench server on a free port; prints the port.
start_server() {
  local log=$TMP/server-$1.log
  "$SERVER" --port 0 >"$log" 2>&1 &
  pids+=($!)
  local port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "bench server $1 did not start" >&2; exit 1; }
  echo "$port"
}

SLOW_PORT=$(start_server slow)
FAST_PORT=$(start_server fast)

for i in $(seq "$SLOW"); do echo "http://127.0.0.1:$SLOW_PORT/delay/$DELAY_MS/$i"; done >"$TMP/slow.txt"
for i in $(seq "$FAST"); do echo "http://127.0.0.1:$FAST_PORT/bytes/10/$i"; done >"$TMP/fast.txt"
# Interleave: slow, fast, slow, fast, ... (the longer list's tail last).
paste -d '\n' "$TMP/slow.txt" "$TMP/fast.txt" | sed '/^$/d' >"$TMP/mixed.txt"

# Runs fetcher-stream ROUNDS times on a list; prints the median wall seconds
# and checks that every line gave a success record.
measure() {
  local list=$1; shift
  local want; want=$(wc -l <"$list")
  local times=()
  for _ in $(seq "$ROUNDS"); do
    local t0 t1 got
    t0=$(date +%s.%N)
    got=$("$BIN" -q "$@" "$list" | grep -c '"type":"success"' || true)
    t1=$(date +%s.%N)
    [ "$got" = "$want" ] || { echo "only $got of $want successes: $*" >&2; exit 1; }
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p"
}

alone=$(measure "$TMP/slow.txt" -c 20 --max-per-host 2)
capped=$(measure "$TMP/mixed.txt" -c 20 --max-per-host 2)
plain=$(measure "$TMP/mixed.txt" -c 20 --max-per-host 0)

printf 'slow host: %s URLs at /delay/%s ms; fast host: %s URLs; median of %s runs (%s build)\n' \
  "$SLOW" "$DELAY_MS" "$FAST" "$ROUNDS" "$PROFILE"
printf '%-46s %8.2f s\n' "slow share alone (-c 20 --max-per-host 2)" "$alone"
printf '%-46s %8.2f s\n' "mixed, -c 20 --max-per-host 2" "$capped"
printf '%-46s %8.2f s\n' "mixed, plain -c 20 (no per-host cap)" "$plain"
