#!/usr/bin/env bash
# Benchmarks of fetcher-stream against its peers, in one run, plus the
# memory check for an endless body.
#
# Builds the release binary and the bench server (examples/bench_server.rs),
# makes a test CA and server certificate with the openssl CLI under
# target/bench/, starts the bench server pinned to core 0 (plain HTTP, HTTPS
# offering h2 + http/1.1, and HTTPS offering only http/1.1), then runs every
# workload for every tool in turn (A B C … A B C …, ROUNDS rounds), each client
# pinned to core 1, under /usr/bin/time for wall, user+sys CPU and peak RSS.
# Every tool's results are counted, so a tool that drops results is flagged.
# Writes bench/RESULTS.md (bench/report.py formats it). Loopback only.
#
# Tools: fetcher-stream; oha (a load generator: one URL, -n N -c C); curl
# --parallel with a config file of URLs; xargs -P C curl; bench/httpx_ref.py
# (the Python reference design, httpx in a venv under target/bench-venv).
# Missing tools are installed: `time`, `hyperfine`, curl, openssl, python3 by
# apt-get; oha by `cargo install oha --locked`; httpx by pip in the venv.
#
# Workloads:
#   W1  20,000 distinct URLs, 100-byte bodies, -c 64         (throughput)
#   W2  2,000 URLs delayed 50 ms, -c 100, ideal wall 1.0 s     (latency-bound)
#   W3  1,000,000 and 100,000 URLs, 10-byte bodies, -c 64      (memory vs. list length)
#   W4  5,000 HTTPS URLs, -c 64, HTTP/1.1 and HTTP/2          (TLS keep-alive)
#   W5  `fetcher-stream < /dev/null`, median of 20 runs        (startup)
#   RSS 8 endless bodies at -t 60 -c 8, SIGINT after 10 s: peak RSS < 32 MiB
#
# Real-world shapes (bench/real.sh, run in a private network and mount
# namespace with its own DNS server and nginx; fetcher-stream, curl --parallel
# and bench/aiohttp_ref.py; every answer from DNS after 5 ms unless said):
#   W6  20,000 and 100,000 distinct hosts h1.bench.test …, -c 200 and -c 500,
#       and 20,000 at -c 500 with DNS answering after 100 ms
#   W7  3,000 URLs to one HTTPS origin, -c 200
#   W8  200 hosts × 25 paths interleaved, -c 200, HTTP/2 and --http1.1
# Each run records wall, CPU, peak RSS, peak open descriptors, TCP connections
# opened and DNS queries received. nginx comes from apt-get, aiohttp from pip
# into the venv.
#
# Environment:
#   ROUNDS=3            rounds per workload (medians quoted; 1 with QUICK=1)
#   FAST_ROUNDS=5       rounds for the tools that take under ~2 s (fetcher-stream,
#                       oha, curl --parallel) in W1, W2 and W4 (at least ROUNDS)
#   QUICK=1             small lists and short runs: a smoke test of the script
#   W3_PEER_ROUNDS=1    rounds for the slow peers (xargs curl, httpx) in W3 at 100,000
#   W3_PEERS=1          0 skips curl, xargs and httpx in W3 entirely
#   QUIET_WAIT=60       before each round, wait up to this many seconds for other
#                       processes to use under 20 % of a core (shared machines)
#   QUIET_BUDGET=240    at most this many seconds of such waiting in all
#   OUT=bench/RESULTS.md  where the report goes
#   UPDATE_README=1     also replace the table between the bench markers in README.md
#   ONLY=real           only the real-world shapes (their block of OUT is replaced,
#                       the rest kept); ONLY=classic only W1–W5 and RSS (the
#                       real-world block of OUT is kept); unset: both
#   REAL_ROUNDS=1       rounds per real-world workload
#   REAL_TIMEOUT=600    a real-world client still running after this many seconds
#                       is stopped (its missing records are then flagged)
#   REAL_TOOLS="fetcher curl aiohttp"  the tools of the real-world runs
#
# Usage: bench/run.sh   (from anywhere; run as root on a fresh machine so that
# missing Debian packages can be installed). About 10 minutes on 2 cores for
# W1–W5, and 30–50 minutes more for the real-world shapes (curl and aiohttp at
# 100,000 hosts take minutes each). Smoke run of the new part alone:
# `QUICK=1 ONLY=real bench/run.sh` (about 6 minutes).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then ROUNDS=${ROUNDS:-1}; else ROUNDS=${ROUNDS:-3}; fi
if [ "$QUICK" = 1 ]; then FAST_ROUNDS=${FAST_ROUNDS:-$ROUNDS}; else FAST_ROUNDS=${FAST_ROUNDS:-5}; fi
[ "$FAST_ROUNDS" -ge "$ROUNDS" ] || FAST_ROUNDS=$ROUNDS
W3_PEER_ROUNDS=${W3_PEER_ROUNDS:-1}
W3_PEERS=${W3_PEERS:-1}
OUT=${OUT:-bench/RESULTS.md}
QUIET_WAIT=${QUIET_WAIT:-60}
QUIET_BUDGET=${QUIET_BUDGET:-240}
UPDATE_README=${UPDATE_README:-0}
ONLY=${ONLY:-all}
REAL_ROUNDS=${REAL_ROUNDS:-1}
REAL_TIMEOUT=${REAL_TIMEOUT:-600}

if [ "$QUICK" = 1 ]; then
  W1_N=2000 W2_N=400 W3_BIG=20000 W3_SMALL=5000 W3_OHA_BIG=10000 W4_N=500 W5_RUNS=5 ENDLESS_SECS=3
else
  W1_N=20000 W2_N=2000 W3_BIG=1000000 W3_SMALL=100000 W3_OHA_BIG=200000 W4_N=5000 W5_RUNS=20 ENDLESS_SECS=10
fi
W1_C=64 W2_C=100 W3_C=64 W4_C=64 W2_DELAY_MS=50 ENDLESS_C=8 ENDLESS_T=60
RSS_LIMIT_MIB=32

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
B=$TARGET/bench
VENV=$TARGET/bench-venv
BIN=$TARGET/release/fetcher-stream
SERVER=$TARGET/release/examples/bench_server
mkdir -p "$B"
RAW=$B/raw.tsv
CMDS=$B/commands.tsv
FACTS=$B/facts.tsv
EXTRA=$B/extra.tsv

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf 'bench: %s\n' "$*" >&2
  exit 1
}
case $ONLY in all | classic | real) ;; *) die "ONLY=$ONLY: use real, classic or leave it unset" ;; esac
# classic / real: whether W1–W5 and RSS / the real-world shapes run.
classic() { [ "$ONLY" != real ]; }
real() { [ "$ONLY" != classic ]; }

# ---------------------------------------------------------------- installs

# apt_install and load_cargo.
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"
load_cargo

missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
if real; then
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v getent >/dev/null 2>&1 || missing+=(libc-bin)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  apt_install "${missing[@]}"
fi
if classic && ! command -v hyperfine >/dev/null 2>&1; then
  log "installing hyperfine (apt-get)"
  (apt_install hyperfine) || log "hyperfine could not be installed: W5 falls back to a shell loop"
fi
HYPERFINE=$(command -v hyperfine || true)
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing"
command -v taskset >/dev/null 2>&1 || die "taskset is missing"

OHA=$(command -v oha || true)
if [ -z "$OHA" ] && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/oha" ]; then OHA=${CARGO_HOME:-$HOME/.cargo}/bin/oha; fi
if classic && [ -z "$OHA" ]; then
  log "installing oha (cargo install oha --locked)"
  cargo install oha --locked >"$B/oha-install.log" 2>&1 || die "cargo install oha failed: $(tail -n 20 "$B/oha-install.log")"
  OHA=${CARGO_HOME:-$HOME/.cargo}/bin/oha
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "making the Python venv $VENV"
  python3 -m venv "$VENV" 2>/dev/null || {
    rm -rf "$VENV"
    apt_install python3-venv
    python3 -m venv "$VENV"
  }
fi
if classic && ! "$VENV/bin/python" -c 'import httpx, h2' 2>/dev/null; then
  log "installing httpx[http2] into the venv (pip)"
  "$VENV/bin/pip" install -q 'httpx[http2]' >"$B/pip.log" 2>&1 || die "pip install httpx failed: $(tail -n 20 "$B/pip.log")"
fi
if real && ! "$VENV/bin/python" -c 'import aiohttp' 2>/dev/null; then
  log "installing aiohttp into the venv (pip)"
  "$VENV/bin/pip" install -q aiohttp >"$B/pip.log" 2>&1 || die "pip install aiohttp failed: $(tail -n 20 "$B/pip.log")"
fi
PY=$VENV/bin/python

# Two cores: the server gets core 0, every client core 1. On one core both share it.
SERVER_CPU=0 CLIENT_CPU=1
if [ "$(nproc)" -lt 2 ]; then
  log "only $(nproc) core: server and clients share core 0"
  CLIENT_CPU=0
fi

# ---------------------------------------------------------------- build

build=(--bin fetcher-stream)
classic && build+=(--example bench_server)
log "building release (${build[*]})"
cargo build --release --locked "${build[@]}" >"$B/build.log" 2>&1 ||
  die "cargo build failed: $(tail -n 30 "$B/build.log")"

# ---------------------------------------------------------------- TLS test CA

TLS=$B/tls
mkdir -p "$TLS"
if [ ! -s "$TLS/server.pem" ] || ! openssl x509 -checkend 86400 -noout -in "$TLS/server.pem" >/dev/null 2>&1; then
  log "making a test CA and server certificate (openssl, P-256)"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TLS/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$TLS/ca.key" -sha256 -days 30 -subj "/CN=fetcher-stream bench CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$TLS/ca.pem" 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TLS/server.key" 2>/dev/null
  openssl req -new -key "$TLS/server.key" -subj "/CN=localhost" -out "$TLS/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TLS/server.ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 -extfile "$TLS/server.ext" \
    -out "$TLS/server.pem" 2>/dev/null
fi
CA=$TLS/ca.pem

# ---------------------------------------------------------------- real-world shapes

if real; then
  # A wildcard certificate for nginx's *.bench.test, from the same CA (made again
  # whenever the CA was).
  if [ ! -s "$TLS/wild.pem" ] || ! openssl verify -CAfile "$CA" "$TLS/wild.pem" >/dev/null 2>&1 ||
    ! openssl x509 -checkend 86400 -noout -in "$TLS/wild.pem" >/dev/null 2>&1; then
    log "making a *.bench.test certificate (openssl, P-256)"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TLS/wild.key" 2>/dev/null
    openssl req -new -key "$TLS/wild.key" -subj "/CN=*.bench.test" -out "$TLS/wild.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:*.bench.test,DNS:bench.test" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TLS/wild.ext"
    openssl x509 -req -in "$TLS/wild.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 -extfile "$TLS/wild.ext" \
      -out "$TLS/wild.pem" 2>/dev/null
  fi
  # Everything of this section (DNS server, nginx, clients) runs in one private
  # network and mount namespace: only lo exists there, and bench/real.sh
  # bind-mounts its own resolv.conf, hosts and nsswitch.conf. Without root, a user
  # namespace (-r) makes the mounts and port 53 possible.
  if [ "$(id -u)" = 0 ]; then
    UNSHARE=(unshare -n -m --propagation private)
  else
    UNSHARE=(unshare -r -n -m --propagation private)
  fi
  REAL_DIR=$B/real
  rm -rf "$REAL_DIR"
  mkdir -p "$REAL_DIR"
  log "real-world shapes: ${UNSHARE[*]} bench/real.sh"
  env ROOT="$ROOT" B="$B" BIN="$BIN" PY="$PY" CA="$CA" WILD_CERT="$TLS/wild.pem" WILD_KEY="$TLS/wild.key" \
    SERVER_CPU="$SERVER_CPU" CLIENT_CPU="$CLIENT_CPU" QUICK="$QUICK" REAL_ROUNDS="$REAL_ROUNDS" \
    REAL_TIMEOUT="$REAL_TIMEOUT" REAL_DIR="$REAL_DIR" REAL_UNSHARE="${UNSHARE[*]}" \
    REAL_TOOLS="${REAL_TOOLS:-fetcher curl aiohttp}" QUIET_WAIT="$QUIET_WAIT" QUIET_BUDGET="$QUIET_BUDGET" \
    "${UNSHARE[@]}" bash "$ROOT/bench/real.sh" || die "the real-world section failed"
  if ! classic; then
    "$PY" bench/report.py --real "$REAL_DIR" --real-only --out "$OUT"
    log "wrote the real-world block of $OUT"
    exit 0
  fi
fi

# ---------------------------------------------------------------- servers

SERVER_PIDS=()
cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME ARGS...: starts the bench server pinned to the server core,
# waits for its `listening on` line and sets PORT.
start_server() {
  local name=$1 _
  shift
  : >"$B/server-$name.log"
  taskset -c "$SERVER_CPU" "$SERVER" --port 0 "$@" >"$B/server-$name.log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$B/server-$name.log")
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  die "bench server $name did not start: $(cat "$B/server-$name.log")"
}
start_server http
HTTP_PORT=$PORT
start_server tls --tls "$TLS/server.pem" "$TLS/server.key"
H2_PORT=$PORT
start_server tls-h1 --tls "$TLS/server.pem" "$TLS/server.key" --http1-only
H1_PORT=$PORT
log "servers: http :$HTTP_PORT, https (h2, http/1.1) :$H2_PORT, https (http/1.1 only) :$H1_PORT"
HTTP=http://127.0.0.1:$HTTP_PORT
HTTP_PID=${SERVER_PIDS[0]} H2_PID=${SERVER_PIDS[1]} H1_PID=${SERVER_PIDS[2]}
CLK_TCK=$(getconf CLK_TCK)
SRV_PID=$HTTP_PID
# srv_ticks: CPU ticks (user + system) the server SRV_PID has used so far.
srv_ticks() { awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat"; }
HTTPS_H2=https://127.0.0.1:$H2_PORT
HTTPS_H1=https://127.0.0.1:$H1_PORT

# ---------------------------------------------------------------- URL lists

# urls FILE N PREFIX: N distinct URLs PREFIX/1 .. PREFIX/N.
urls() { seq 1 "$2" | sed "s|^|$3/|" >"$1"; }
# curl_config URLS CFG: a curl config file with a url and an output line per URL.
curl_config() { awk '{ print "url = \"" $0 "\"\noutput = \"/dev/null\"" }' "$1" >"$2"; }

log "writing URL lists"
urls "$B/w1.txt" "$W1_N" "$HTTP/bytes/100"
urls "$B/w2.txt" "$W2_N" "$HTTP/delay/$W2_DELAY_MS"
urls "$B/w3-big.txt" "$W3_BIG" "$HTTP/bytes/10"
urls "$B/w3-small.txt" "$W3_SMALL" "$HTTP/bytes/10"
urls "$B/w4-h1.txt" "$W4_N" "$HTTPS_H1/bytes/100"
urls "$B/w4-h2.txt" "$W4_N" "$HTTPS_H2/bytes/100"
urls "$B/endless.txt" "$ENDLESS_C" "$HTTP/endless"
urls "$B/warm.txt" 20 "$HTTP/bytes/100"
urls "$B/warm-tls.txt" 20 "$HTTPS_H2/bytes/100"
for w in w1 w2 w3-small w4-h1 w4-h2 warm; do curl_config "$B/$w.txt" "$B/$w.curlcfg"; done

# ---------------------------------------------------------------- measuring

: >"$RAW"
: >"$CMDS"
: >"$EXTRA"
CURL_W='%{http_code} %{http_version} %{size_download} %{time_total} %{url_effective}\n'

rel() { printf '%s' "${1#"$ROOT"/}"; }
# quote ARGS...: the command as a copyable shell line, paths relative to the repo.
quote() {
  local a out=
  for a in "$@"; do
    a=${a//"$ROOT"\//}
    [ "$a" = "$OHA" ] && a=oha
    [ "$a" = "${HYPERFINE:-}" ] && a=hyperfine
    case $a in
      *[!A-Za-z0-9_./:=@%+,-]*) out+="'${a//\'/\'\\\'\'}' " ;;
      *) out+="$a " ;;
    esac
  done
  printf '%s' "${out% }"
}

# oha prints no line per request: its JSON summary has the counts by status and error.
OHA_COUNT_PY='
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print(0, 0, "no-summary")
    sys.exit()
codes = d.get("statusCodeDistribution", {})
errors = d.get("errorDistribution", {})
bad = [(k, v) for k, v in codes.items() if k != "200"] + [("error", sum(errors.values()))]
bad = ",".join(f"{k}:{v}" for k, v in bad if v) or "-"
print(sum(codes.values()) + sum(errors.values()), codes.get("200", 0), bad)
'

# count KIND OUT ERR: prints "LINES OK PROTO ERRORS" for one run's output, where
# ERRORS counts the results that were not 200 by kind (`timeout:3,000:1`), or `-`.
count() {
  local kind=$1 out=$2 err=$3 lines ok proto=- errs=
  case $kind in
    json)
      lines=$(wc -l <"$out")
      # A success record with status 200 (quotes inside JSON strings are escaped, so
      # the url field cannot fake these).
      ok=$({ grep '"type":"success"' "$out" || true; } | grep -c '"status":200,' || true)
      proto=$(head -n 1000 "$out" | { grep -o '"http_version":"[^"]*"' || true; } |
        sort | uniq -c | sort -rn | awk 'NR==1 { gsub(/"/, "", $2); sub(/http_version:/, "", $2); print $2 }')
      if [ "$ok" != "$lines" ]; then
        errs=$({ grep -v '"status":200,' "$out" || true; } |
          sed -n 's/.*"error_kind":"\([^"]*\)".*/\1/p; s/.*"type":"success".*"status":\([0-9]*\).*/\1/p' |
          sort | uniq -c | sort -rn | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')
      fi
      ;;
    curl)
      lines=$(wc -l <"$out")
      ok=$(grep -c '^200 ' "$out" || true)
      proto=$(head -n 1000 "$out" | awk '{ print $2 }' | sort | uniq -c | sort -rn | awk 'NR==1 { print "HTTP/" $2 }')
      if [ "$ok" != "$lines" ]; then
        errs=$(awk '$1 != "200" { print $1 }' "$out" | sort | uniq -c | sort -rn | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')
      fi
      ;;
    oha)
      read -r lines ok errs < <("$PY" -c "$OHA_COUNT_PY" "$out")
      [ "$errs" = - ] && errs=
      ;;
  esac
  printf '%s %s %s %s\n' "${lines:-0}" "${ok:-0}" "${proto:--}" "${errs:--}"
}

# run WORKLOAD TOOL KIND ROUND N STDIN -- CMD...: one timed run of CMD, pinned to
# the client core, with STDIN as input; appends a row to raw.tsv. Wall time is
# taken with nanosecond clocks around /usr/bin/time (whose %e has 10 ms steps);
# CPU (%U + %S, all the client's processes) and peak RSS (%M) come from it. The
# CPU the server (SRV_PID) used meanwhile is recorded too, to show whether the
# server was the limit. (curl 7.88's --parallel draws its progress meter despite
# -s; --no-progress-meter stops it.)
run() {
  local w=$1 tool=$2 kind=$3 round=$4 n=$5 in=$6
  shift 7
  local out=$B/out.txt err=$B/err.txt rc=0
  if [ "$round" = 1 ]; then
    printf '%s\t%s\t%s < %s\n' "$w" "$tool" "$(quote taskset -c "$CLIENT_CPU" "$@")" "$(rel "$in")" >>"$CMDS"
  fi
  local s0 s1 t0 t1 b0 b1
  b0=$(busy_ticks)
  s0=$(srv_ticks)
  t0=$(date +%s%N)
  /usr/bin/time -o "$B/time.txt" -f '%e %U %S %M' taskset -c "$CLIENT_CPU" "$@" <"$in" >"$out" 2>"$err" || rc=$?
  t1=$(date +%s%N)
  s1=$(srv_ticks)
  b1=$(busy_ticks)
  local wall user sys rss lines ok proto srv other errs
  read -r _ user sys rss < <(tail -n 1 "$B/time.txt")
  wall=$(awk "BEGIN { printf \"%.4f\", ($t1 - $t0) / 1e9 }")
  srv=$(awk "BEGIN { printf \"%.2f\", ($s1 - $s0) / $CLK_TCK }")
  # CPU that neither this client nor the server used meanwhile: other processes (noise).
  other=$(awk "BEGIN { printf \"%.2f\", ($b1 - $b0) / $CLK_TCK - $srv - $user - $sys }")
  read -r lines ok proto errs < <(count "$kind" "$out" "$err")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$w" "$tool" "$round" "$n" "$wall" "$user" "$sys" "$rss" "$lines" "$ok" "$proto" "$rc" "$srv" "$other" "$errs" >>"$RAW"
  log "$w $tool round $round: ${wall}s wall, $(awk "BEGIN { print $user + $sys }")s cpu, $((rss / 1024)) MiB, $ok/$n ok ($lines lines, $proto, exit $rc$([ "$errs" = - ] || printf ', %s' "$errs")), server ${srv}s cpu, other ${other}s cpu"
}

# xargs_n N C: URLs per curl process: 50, or fewer so that all C slots are used.
xargs_n() { local k=$(((${1} + ${2} - 1) / ${2})); [ "$k" -gt 50 ] && k=50; printf '%s' "$k"; }

# The tools, each as a function: TOOL_x WORKLOAD ROUND N C URLS [EXTRA...]
# Every workload here is one loopback server: fetcher-stream runs without its
# default per-host cap (10), so -c alone sets its concurrency, as the peers'.
t_fetcher() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  run "$w" fetcher-stream json "$r" "$n" "$f" -- "$BIN" -q -c "$c" --max-per-host 0 "$@"
  if [ "$w" = W2 ]; then
    # The median request latency fetcher-stream saw: waves × this is the floor the
    # server's own delay (tokio's 1 ms timer, rounding up) sets for W2.
    grep -o '"elapsed_ms":[0-9.]*' "$B/out.txt" | cut -d: -f2 | sort -n |
      awk -v r="$r" '{ a[NR] = $1 } END { if (NR) printf "w2_latency\t%s\t%s\n", r, a[int((NR + 1) / 2)] }' >>"$EXTRA"
  fi
}
t_oha() { # oha needs one URL, not the list: URL_PREFIX given after the list
  local w=$1 r=$2 n=$3 c=$4 url=$5
  shift 5
  run "$w" oha oha "$r" "$n" /dev/null -- "$OHA" -n "$n" -c "$c" --no-tui --output-format json "$@" "$url"
}
t_curl() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  run "$w" "curl --parallel" curl "$r" "$n" /dev/null -- \
    curl --parallel --parallel-max "$c" --parallel-immediate -s --no-progress-meter "$@" -w "$CURL_W" -K "${f%.txt}.curlcfg"
}
t_xargs() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  # curl's -o names the output of one URL only, so a tiny sh wrapper gives each URL
  # its own `-o /dev/null`; the -w lines then go to stdout, written at exit in one
  # block per curl process (not interleaved between processes).
  run "$w" "xargs curl" curl "$r" "$n" "$f" -- xargs -P "$c" -n "$(xargs_n "$n" "$c")" sh -c \
    "for u; do set -- \"\$@\" -o /dev/null \"\$u\"; shift; done; exec curl -s $(quote "$@" -w "$CURL_W") \"\$@\"" sh
}
t_httpx() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  run "$w" httpx json "$r" "$n" "$f" -- "$PY" bench/httpx_ref.py -q -c "$c" "$@"
}

# Warm-up (untimed): page cache, Python bytecode, the servers' first connections.
log "warm-up"
"$BIN" -q -c 4 <"$B/warm.txt" >/dev/null || true
"$BIN" -q -c 4 --cacert "$CA" <"$B/warm-tls.txt" >/dev/null || true
"$PY" bench/httpx_ref.py -q -c 4 <"$B/warm.txt" >/dev/null || true
curl --parallel -s --no-progress-meter -K "$B/warm.curlcfg" >/dev/null 2>&1 || true
"$OHA" -n 100 -c 4 --no-tui --output-format quiet "$HTTP/bytes/100/x" >/dev/null 2>&1 || true

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
b0=$(busy_ticks)
sleep 2
IDLE_BUSY=$(awk "BEGIN { printf \"%.0f\", ($(busy_ticks) - $b0) / $CLK_TCK / 2 * 100 }")
if [ "$IDLE_BUSY" -gt 20 ]; then
  log "warning: other processes keep ${IDLE_BUSY} % of a core busy; the figures will be noisy"
fi
START=$(date +%s)

# ---------------------------------------------------------------- W1

# slow R: whether the slow tools (xargs curl, httpx) run in round R (only the first ROUNDS).
slow() { [ "$1" -le "$ROUNDS" ]; }
log "W1: $W1_N URLs /bytes/100, -c $W1_C, $FAST_ROUNDS/$ROUNDS rounds"
for r in $(seq "$FAST_ROUNDS"); do
  wait_quiet
  t_fetcher W1 "$r" "$W1_N" "$W1_C" "$B/w1.txt"
  t_oha W1 "$r" "$W1_N" "$W1_C" "$HTTP/bytes/100/x"
  t_curl W1 "$r" "$W1_N" "$W1_C" "$B/w1.txt"
  if slow "$r"; then
    t_xargs W1 "$r" "$W1_N" "$W1_C" "$B/w1.txt"
    t_httpx W1 "$r" "$W1_N" "$W1_C" "$B/w1.txt"
  fi
done

# ---------------------------------------------------------------- W2
log "W2: $W2_N URLs /delay/$W2_DELAY_MS, -c $W2_C, $FAST_ROUNDS/$ROUNDS rounds"
for r in $(seq "$FAST_ROUNDS"); do
  wait_quiet
  t_fetcher W2 "$r" "$W2_N" "$W2_C" "$B/w2.txt"
  t_oha W2 "$r" "$W2_N" "$W2_C" "$HTTP/delay/$W2_DELAY_MS/x"
  t_curl W2 "$r" "$W2_N" "$W2_C" "$B/w2.txt"
  if slow "$r"; then
    t_xargs W2 "$r" "$W2_N" "$W2_C" "$B/w2.txt"
    t_httpx W2 "$r" "$W2_N" "$W2_C" "$B/w2.txt"
  fi
done

# ---------------------------------------------------------------- W3
W3S=W3-$((W3_SMALL / 1000))k
if [ "$W3_BIG" -ge 1000000 ]; then W3B=W3-$((W3_BIG / 1000000))M; else W3B=W3-$((W3_BIG / 1000))k; fi
log "W3: $W3_BIG and $W3_SMALL URLs /bytes/10, -c $W3_C, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  wait_quiet
  t_fetcher "$W3B" "$r" "$W3_BIG" "$W3_C" "$B/w3-big.txt"
  t_oha "$W3B" "$r" "$W3_OHA_BIG" "$W3_C" "$HTTP/bytes/10/x"
  t_fetcher "$W3S" "$r" "$W3_SMALL" "$W3_C" "$B/w3-small.txt"
  t_oha "$W3S" "$r" "$W3_SMALL" "$W3_C" "$HTTP/bytes/10/x"
  if [ "$W3_PEERS" = 1 ]; then
    t_curl "$W3S" "$r" "$W3_SMALL" "$W3_C" "$B/w3-small.txt"
    if [ "$r" -le "$W3_PEER_ROUNDS" ]; then
      t_xargs "$W3S" "$r" "$W3_SMALL" "$W3_C" "$B/w3-small.txt"
      t_httpx "$W3S" "$r" "$W3_SMALL" "$W3_C" "$B/w3-small.txt"
    fi
  fi
done

# ---------------------------------------------------------------- W4
log "W4: $W4_N HTTPS URLs /bytes/100, -c $W4_C, HTTP/1.1 and HTTP/2, $FAST_ROUNDS/$ROUNDS rounds"
for r in $(seq "$FAST_ROUNDS"); do
  wait_quiet
  SRV_PID=$H1_PID
  t_fetcher W4-h1 "$r" "$W4_N" "$W4_C" "$B/w4-h1.txt" --cacert "$CA"
  t_oha W4-h1 "$r" "$W4_N" "$W4_C" "$HTTPS_H1/bytes/100/x" --cacert "$CA" --http-version 1.1
  t_curl W4-h1 "$r" "$W4_N" "$W4_C" "$B/w4-h1.txt" --cacert "$CA" --http1.1
  if slow "$r"; then
    t_xargs W4-h1 "$r" "$W4_N" "$W4_C" "$B/w4-h1.txt" --cacert "$CA" --http1.1
    t_httpx W4-h1 "$r" "$W4_N" "$W4_C" "$B/w4-h1.txt" --cacert "$CA"
  fi
  SRV_PID=$H2_PID
  t_fetcher W4-h2 "$r" "$W4_N" "$W4_C" "$B/w4-h2.txt" --cacert "$CA"
  t_oha W4-h2 "$r" "$W4_N" 1 "$HTTPS_H2/bytes/100/x" --cacert "$CA" --http2 -p "$W4_C"
  t_curl W4-h2 "$r" "$W4_N" "$W4_C" "$B/w4-h2.txt" --cacert "$CA" --http2
  if slow "$r"; then
    t_xargs W4-h2 "$r" "$W4_N" "$W4_C" "$B/w4-h2.txt" --cacert "$CA" --http2
    t_httpx W4-h2 "$r" "$W4_N" "$W4_C" "$B/w4-h2.txt" --cacert "$CA" --http2
  fi
done

# ---------------------------------------------------------------- W5
SRV_PID=$HTTP_PID
log "W5: startup, median of $W5_RUNS runs"
wait_quiet
W5_CMD="$(quote taskset -c "$CLIENT_CPU" "$BIN") < /dev/null"
if [ -n "$HYPERFINE" ]; then
  # hyperfine gives the command /dev/null as stdin; pinned through taskset on hyperfine itself.
  taskset -c "$CLIENT_CPU" "$HYPERFINE" -N --runs "$W5_RUNS" --warmup 3 --export-json "$B/w5.json" \
    "$BIN" >"$B/w5.log" 2>&1 || die "hyperfine failed: $(cat "$B/w5.log")"
  W5_MS=$("$PY" -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$B/w5.json")
  W5_HOW="hyperfine -N --runs $W5_RUNS --warmup 3 (pinned with taskset -c $CLIENT_CPU)"
  W5_CMD="$(quote taskset -c "$CLIENT_CPU" hyperfine -N --runs "$W5_RUNS" --warmup 3 "$BIN")  # hyperfine's stdin for the command is /dev/null"
else
  : >"$B/w5.txt"
  for _ in $(seq "$W5_RUNS"); do
    s=$(date +%s%N)
    taskset -c "$CLIENT_CPU" "$BIN" </dev/null >/dev/null 2>&1 || true
    e=$(date +%s%N)
    echo $(((e - s) / 1000)) >>"$B/w5.txt"
  done
  W5_MS=$(sort -n "$B/w5.txt" | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }')
  W5_HOW="a shell loop of $W5_RUNS runs timed with date +%s%N (hyperfine missing; includes taskset's exec)"
fi
/usr/bin/time -o "$B/time.txt" -f '%e %U %S %M' taskset -c "$CLIENT_CPU" "$BIN" </dev/null >/dev/null 2>&1 || true
read -r _ _ _ W5_RSS < <(tail -n 1 "$B/time.txt")
printf 'w5\t%s\t%s\t%s\t%s\n' "$W5_MS" "$W5_RSS" "$W5_HOW" "$W5_CMD" >>"$EXTRA"
log "W5: median ${W5_MS} ms, ${W5_RSS} KiB"

# ---------------------------------------------------------------- RSS under endless bodies
wait_quiet
log "RSS: $ENDLESS_C endless bodies at -t $ENDLESS_T -c $ENDLESS_C, SIGINT after ${ENDLESS_SECS}s"
SRV_PID=$HTTP_PID
t0=$(srv_ticks)
rc=0
/usr/bin/time -o "$B/time.txt" -f '%e %U %S %M' timeout --preserve-status -k 10 -s INT "$ENDLESS_SECS" \
  taskset -c "$CLIENT_CPU" "$BIN" -t "$ENDLESS_T" -c "$ENDLESS_C" --max-per-host 0 <"$B/endless.txt" >"$B/endless.out" 2>"$B/endless.err" || rc=$?
t1=$(srv_ticks)
read -r e_wall e_user e_sys e_rss < <(tail -n 1 "$B/time.txt")
e_lines=$(wc -l <"$B/endless.out")
e_cancelled=$(grep -c '"error_kind":"cancelled"' "$B/endless.out" || true)
e_verdict=FAIL
if [ "$e_rss" -lt $((RSS_LIMIT_MIB * 1024)) ] && [ "$e_lines" = "$ENDLESS_C" ]; then e_verdict=PASS; fi
E_CMD="$(quote timeout --preserve-status -k 10 -s INT "$ENDLESS_SECS" taskset -c "$CLIENT_CPU" "$BIN" -t "$ENDLESS_T" -c "$ENDLESS_C" --max-per-host 0) < $(rel "$B/endless.txt")"
printf 'endless\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$e_verdict" "$e_wall" "$e_user" "$e_sys" "$e_rss" \
  "$e_lines" "$e_cancelled" "$rc" "$((t1 - t0))" "$E_CMD" >>"$EXTRA"
log "RSS: $e_verdict: peak $((e_rss / 1024)) MiB (limit $RSS_LIMIT_MIB MiB), $e_lines records ($e_cancelled cancelled), exit $rc"

END=$(date +%s)

# ---------------------------------------------------------------- facts and report

{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'commit\t%s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock examples 2>/dev/null || echo ' (with uncommitted changes)')"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  printf 'memory\t%s\n' "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'rustc\t%s\n' "$(rustc --version)"
  printf 'fetcher-stream\t%s\n' "$("$BIN" --version)"
  printf 'oha\t%s\n' "$("$OHA" --version)"
  printf 'curl\t%s\n' "$(curl --version | head -n 1)"
  printf 'xargs\t%s\n' "$(xargs --version | head -n 1)"
  printf 'python\t%s\n' "$("$PY" --version 2>&1)"
  printf 'httpx\t%s\n' "$("$PY" -c 'import httpx, httpcore, h2; print("httpx", httpx.__version__, "/ httpcore", httpcore.__version__, "/ h2", h2.__version__)')"
  printf 'hyperfine\t%s\n' "$([ -n "$HYPERFINE" ] && "$HYPERFINE" --version || echo 'not installed')"
  printf 'openssl\t%s\n' "$(openssl version)"
  printf 'time\t%s\n' "$(/usr/bin/time --version 2>&1 | head -n 1)"
  printf 'rounds\t%s\n' "$ROUNDS"
  printf 'fast_rounds\t%s\n' "$FAST_ROUNDS"
  printf 'loadavg_before\t%s\n' "$LOADAVG_BEFORE"
  printf 'busy_before\t%s\n' "$IDLE_BUSY"
  printf 'quiet_waited_s\t%s\n' "$QUIET_WAITED"
  printf 'w2_waves\t%s\n' "$(((W2_N + W2_C - 1) / W2_C))"
  printf 'quick\t%s\n' "$QUICK"
  printf 'w3_peer_rounds\t%s\n' "$W3_PEER_ROUNDS"
  printf 'w3_peers\t%s\n' "$W3_PEERS"
  printf 'duration_s\t%s\n' "$((END - START))"
  printf 'server_cpu\t%s\n' "$SERVER_CPU"
  printf 'client_cpu\t%s\n' "$CLIENT_CPU"
  printf 'w2_ideal_s\t%s\n' "$(awk "BEGIN { print ($W2_N / $W2_C) * $W2_DELAY_MS / 1000 }")"
  printf 'w3_big\t%s\n' "$W3B"
  printf 'w3_small\t%s\n' "$W3S"
  printf 'w3_oha_big\t%s\n' "$W3_OHA_BIG"
  printf 'rss_limit_mib\t%s\n' "$RSS_LIMIT_MIB"
  printf 'ports\thttp %s, https h2+http/1.1 %s, https http/1.1 only %s\n' "$HTTP_PORT" "$H2_PORT" "$H1_PORT"
  printf 'lists\t%s\n' "w1.txt: $W1_N × $HTTP/bytes/100/I; w2.txt: $W2_N × $HTTP/delay/$W2_DELAY_MS/I; w3-big.txt: $W3_BIG and w3-small.txt: $W3_SMALL × $HTTP/bytes/10/I; w4-h1.txt: $W4_N × $HTTPS_H1/bytes/100/I; w4-h2.txt: $W4_N × $HTTPS_H2/bytes/100/I; endless.txt: $ENDLESS_C × $HTTP/endless/I (I = 1, 2, …); *.curlcfg: one \`url = \"…\"\` and one \`output = \"/dev/null\"\` line per URL"
} >"$FACTS"

report_args=()
[ "$UPDATE_README" = 1 ] && report_args=(--readme README.md)
# Without --real the report keeps the real-world block OUT already has.
if real; then report_args+=(--real "$REAL_DIR"); fi
"$PY" bench/report.py --raw "$RAW" --commands "$CMDS" --facts "$FACTS" --extra "$EXTRA" --out "$OUT" "${report_args[@]}"
log "wrote $OUT ($((END - START)) s of measuring)"
