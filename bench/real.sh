#!/usr/bin/env bash
# The real-world shapes of bench/run.sh: many host names behind a DNS server
# that takes its time, one busy HTTPS origin, and hosts reused across a list.
# bench/run.sh runs this file inside a private network and mount namespace
# (`unshare -n -m`, or `unshare -rnm` when not root), after it has built the
# binary, made the test CA and installed the tools; it is not meant to be
# started by hand. It refuses to run unless `lo` is the only network interface,
# so no query and no connection can leave the machine.
#
# In the namespace it:
#   - brings up lo and bind-mounts its own /etc/resolv.conf (nameserver
#     127.0.0.1), /etc/hosts (localhost only) and /etc/nsswitch.conf (hosts:
#     files dns), and hides nscd's socket if there is one, so that every name
#     lookup reaches the DNS server below and nothing else;
#   - starts bench/dns_server.py on 127.0.0.1:53 (A 127.0.0.1 for *.bench.test,
#     empty AAAA, NXDOMAIN elsewhere, every answer after a delay) and nginx on
#     127.0.0.1:443 (TLS with a *.bench.test certificate, h2 and http/1.1 by
#     ALPN, one worker, a 100-byte body for any path), both pinned to the
#     server core;
#   - runs every workload for fetcher-stream, curl --parallel and
#     bench/aiohttp_ref.py in turn, each pinned to the client core, and records
#     per run: wall, CPU, peak RSS (/usr/bin/time), peak open descriptors and
#     threads (bench/fdpeak.py, every 10 ms), TCP connections opened (Tcp
#     ActiveOpens of the namespace's /proc/net/snmp before and after), DNS
#     queries received (the DNS server's counts), records and failures.
#
# Writes to $REAL_DIR (outside the namespace's own mounts, so run.sh reads it
# afterwards): raw.tsv (one row per run, with a header), commands.tsv,
# workloads.tsv and facts.tsv; bench/report.py formats them.
#
# Environment (set by run.sh): ROOT B BIN PY CA WILD_CERT WILD_KEY SERVER_CPU
# CLIENT_CPU QUICK REAL_ROUNDS REAL_TIMEOUT REAL_DIR.
set -euo pipefail

log() { printf '[bench real %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf 'bench real: %s\n' "$*" >&2
  exit 1
}

for v in ROOT B BIN PY CA WILD_CERT WILD_KEY SERVER_CPU CLIENT_CPU QUICK REAL_ROUNDS REAL_TIMEOUT REAL_DIR; do
  [ -n "${!v:-}" ] || die "$v is not set (bench/real.sh runs under bench/run.sh)"
done
cd "$ROOT"
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"

# ---------------------------------------------------------------- the namespace

# /proc/net/dev lists the interfaces of the caller's network namespace (unlike
# /sys/class/net, which shows the namespace sysfs was mounted in).
ifaces=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | sort | tr '\n' ' ')
[ "$ifaces" = "lo " ] || die "not in a private network namespace (interfaces: $ifaces)"
ip link set lo up

ETC=$REAL_DIR/etc
mkdir -p "$ETC"
printf 'nameserver 127.0.0.1\n' >"$ETC/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ETC/hosts"
# Only files and dns for host names (no mdns, myhostname or systemd-resolved);
# files for the rest, so nginx can still look up its user.
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' \
  'networks: files' 'protocols: files' 'services: files' 'ethers: files' 'rpc: files' >"$ETC/nsswitch.conf"
mount --bind "$ETC/resolv.conf" /etc/resolv.conf
mount --bind "$ETC/hosts" /etc/hosts
mount --bind "$ETC/nsswitch.conf" /etc/nsswitch.conf
# glibc asks nscd (over a Unix socket, which a network namespace does not cut
# off) before anything else; an empty directory over its socket stops that.
for d in /run/nscd /var/run/nscd /var/cache/nscd; do
  if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
grep -qx 'nameserver 127.0.0.1' /etc/resolv.conf || die "/etc/resolv.conf is not ours"
unset http_proxy https_proxy all_proxy no_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY

# ---------------------------------------------------------------- sizes

if [ "$QUICK" = 1 ]; then
  W6_SMALL=2000 W6_BIG=5000 W7_N=1000 W8_HOSTS=50 W8_PATHS=10
else
  W6_SMALL=20000 W6_BIG=100000 W7_N=3000 W8_HOSTS=200 W8_PATHS=25
fi
W6_CS="200 500" W7_C=200 W8_C=200 DELAY_MS=5 SLOW_DELAY_MS=100 SLOW_C=500
BODY_BYTES=100
ZONE=bench.test

kname() { if [ "$1" -ge 1000 ] && [ $(($1 % 1000)) = 0 ]; then printf '%sk' $(($1 / 1000)); else printf '%s' "$1"; fi; }

mkdir -p "$REAL_DIR"
RAW=$REAL_DIR/raw.tsv CMDS=$REAL_DIR/commands.tsv WL=$REAL_DIR/workloads.tsv FACTS=$REAL_DIR/facts.tsv
printf 'workload\ttool\tround\tn\tc\twall\tuser\tsys\trss_kib\trecords\tok\tfailures\tproto\texit\tfds_peak\tthreads_peak\tfd_samples\ttcp_opens\tdns_total\tdns_a\tdns_aaaa\tdns_other\tdns_nxdomain\tdns_tcp\tdns_inflight_max\tudp_rcvbuf_errors\tserver_cpu\tother_cpu\terrors\n' >"$RAW"
: >"$CMDS"
: >"$WL"

# ---------------------------------------------------------------- URL lists

L=$REAL_DIR/lists
mkdir -p "$L"
# hosts FILE N: https://h1.bench.test/ … https://hN.bench.test/
hosts() { seq 1 "$2" | sed "s|.*|https://h&.$ZONE/|" >"$1"; }
# curl_config URLS CFG: a curl config file with a url and an output line per URL.
curl_config() { awk '{ print "url = \"" $0 "\"\noutput = \"/dev/null\"" }' "$1" >"$2"; }
log "writing URL lists"
hosts "$L/w6-small.txt" "$W6_SMALL"
hosts "$L/w6-big.txt" "$W6_BIG"
seq 1 "$W7_N" | sed "s|^|https://one.$ZONE/|" >"$L/w7.txt"
# Interleaved: every host's first path, then every host's second path, …
for p in $(seq "$W8_PATHS"); do seq 1 "$W8_HOSTS" | sed "s|.*|https://h&.$ZONE/p$p|"; done >"$L/w8.txt"
seq 1 20 | sed "s|.*|https://warm&.$ZONE/|" >"$L/warm.txt"
for f in w6-small w6-big w7 w8 warm; do curl_config "$L/$f.txt" "$L/$f.curlcfg"; done
# Every name in the lists is under the test zone (the DNS server answers nothing else).
if grep -hv "^https://[a-z0-9]*\.$ZONE/" "$L"/*.txt | grep -q .; then die "a URL list holds a name outside $ZONE"; fi

# ---------------------------------------------------------------- DNS server

DNS_PID='' NGX_PID=''
cleanup() {
  [ -z "$NGX_PID" ] || kill "$NGX_PID" 2>/dev/null || true
  [ -z "$DNS_PID" ] || kill "$DNS_PID" 2>/dev/null || true
  [ -z "$NGX_PID" ] || wait "$NGX_PID" 2>/dev/null || true
  [ -z "$DNS_PID" ] || wait "$DNS_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DNS_STATS=$REAL_DIR/dns-stats.json
# start_dns DELAY_MS: (re)starts the DNS server with that answer delay.
start_dns() {
  local _
  if [ -n "$DNS_PID" ]; then
    kill "$DNS_PID" 2>/dev/null || true
    wait "$DNS_PID" 2>/dev/null || true
  fi
  : >"$REAL_DIR/dns.log"
  taskset -c "$SERVER_CPU" "$PY" bench/dns_server.py --addr 127.0.0.1 --port 53 --zone "$ZONE" \
    --delay-ms "$1" --stats "$DNS_STATS" >"$REAL_DIR/dns.log" 2>&1 &
  DNS_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening on' "$REAL_DIR/dns.log" && return 0
    kill -0 "$DNS_PID" 2>/dev/null || break
    sleep 0.05
  done
  die "the DNS server did not start: $(cat "$REAL_DIR/dns.log")"
}
# dns_counts: the server's counts since the last call (it writes them on SIGUSR1 and
# starts again from zero), as "TOTAL A AAAA OTHER NXDOMAIN TCP INFLIGHT_MAX".
dns_counts() {
  local _
  rm -f "$DNS_STATS"
  kill -USR1 "$DNS_PID"
  for _ in $(seq 200); do
    if [ -s "$DNS_STATS" ]; then
      "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(*(d[k] for k in ("total", "A", "AAAA", "other", "nxdomain", "tcp", "inflight_max")))' "$DNS_STATS"
      return 0
    fi
    sleep 0.02
  done
  die "the DNS server wrote no counts"
}

# ---------------------------------------------------------------- nginx

NGX=$REAL_DIR/nginx
mkdir -p "$NGX/tmp" "$NGX/logs"
NGX_VERSION=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
# `http2 on;` exists from nginx 1.25.1; before that HTTP/2 is a listen parameter.
if printf '%s\n%s\n' 1.25.1 "$NGX_VERSION" | sort -V -C; then
  LISTEN="listen 127.0.0.1:443 ssl backlog=4096; http2 on;"
else
  LISTEN="listen 127.0.0.1:443 ssl http2 backlog=4096;"
fi
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE="user $(id -un) $(id -gn);"
BODY=$(printf '%*s' $((BODY_BYTES - 1)) '' | tr ' ' x)
cat >"$NGX/nginx.conf" <<EOF
# Written by bench/real.sh: one worker, TLS with h2 and http/1.1 by ALPN, a
# ${BODY_BYTES}-byte body for any path; every path under $NGX.
$USER_LINE
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events {
    worker_connections $((NOFILE - 100));
}
http {
    access_log off;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    # Neither the requests per connection nor the idle time may end a connection
    # during a run: the client decides how many connections it opens.
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {
        $LISTEN
        server_name .$ZONE;
        ssl_certificate $WILD_CERT;
        ssl_certificate_key $WILD_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            default_type text/plain;
            return 200 "$BODY\n";
        }
    }
}
EOF
NGX_ARGS=(-p "$NGX/" -c "$NGX/nginx.conf")
# -e (the error log before the configuration is read) exists from nginx 1.19.5;
# without it nginx opens its built-in path under /var/log first.
if nginx -h 2>&1 | grep -q '^ *-e '; then NGX_ARGS+=(-e "$NGX/logs/error.log"); fi
nginx -t -q "${NGX_ARGS[@]}" 2>"$NGX/test.log" || die "nginx -t: $(cat "$NGX/test.log")"
taskset -c "$SERVER_CPU" nginx "${NGX_ARGS[@]}" >"$NGX/logs/stdout.log" 2>&1 &
NGX_PID=$!

start_dns "$DELAY_MS"
# Up when a request through the DNS server, TLS with the test CA and HTTP/2 works.
for _ in $(seq 100); do
  if curl -sf -o /dev/null --cacert "$CA" "https://probe.$ZONE/" 2>/dev/null; then break; fi
  kill -0 "$NGX_PID" 2>/dev/null || die "nginx exited: $(cat "$NGX/logs/error.log" 2>/dev/null)"
  sleep 0.1
done
probe=$(curl -sS -o /dev/null -w '%{http_code} %{http_version} %{size_download}' --cacert "$CA" "https://probe.$ZONE/x") ||
  die "nginx does not answer on 127.0.0.1:443"
[ "$probe" = "200 2 $BODY_BYTES" ] || die "nginx answered '$probe', not '200 2 $BODY_BYTES' (status, HTTP/2, body size)"
probe=$(curl -sS -o /dev/null -w '%{http_code} %{http_version}' --http1.1 --cacert "$CA" "https://probe.$ZONE/x")
[ "$probe" = "200 1.1" ] || die "nginx answered '$probe' over http/1.1"
# The resolver is ours: a name outside the zone does not resolve, and the server saw the queries.
dns_counts >/dev/null
if getent ahosts example.com >/dev/null 2>&1; then die "example.com resolved: lookups do not stay in the namespace"; fi
# (ahosts, not ahostsv4: with only loopback addresses, AI_ADDRCONFIG for AF_INET finds nothing.)
[ "$(getent ahosts "h1.$ZONE" | awk 'NR == 1 { print $1 }')" = 127.0.0.1 ] || die "h1.$ZONE does not resolve to 127.0.0.1"
read -r seen _ < <(dns_counts)
[ "$seen" -ge 2 ] || die "the DNS server saw $seen queries for two lookups"
log "nginx $NGX_VERSION (pid $NGX_PID) and the DNS server (pid $DNS_PID, ${DELAY_MS} ms) answer on 127.0.0.1"

# ---------------------------------------------------------------- measuring

CLK_TCK=$(getconf CLK_TCK)
# srv_ticks: CPU ticks (user + system) nginx (master and worker) and the DNS server have used.
srv_ticks() {
  local p pids=("$NGX_PID" "$DNS_PID")
  # shellcheck disable=SC2013 # the children files hold pids separated by spaces
  for p in $(cat /proc/"$NGX_PID"/task/*/children 2>/dev/null); do pids+=("$p"); done
  for p in "${pids[@]}"; do cat "/proc/$p/stat" 2>/dev/null; done | awk '{ t += $14 + $15 } END { print t + 0 }'
}
# snmp PROTO FIELD: a counter of this namespace's /proc/net/snmp (a header line of
# names, then a line of values, per protocol).
snmp() {
  awk -v p="$1:" -v f="$2" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else { print $c; exit } }' /proc/net/snmp
}

rel() { printf '%s' "${1#"$ROOT"/}"; }
quote() {
  local a out=
  for a in "$@"; do
    a=${a//"$ROOT"\//}
    case $a in
      *[!A-Za-z0-9_./:=@%+,-]*) out+="'${a//\'/\'\\\'\'}' " ;;
      *) out+="$a " ;;
    esac
  done
  printf '%s' "${out% }"
}

# rrun WORKLOAD TOOL KIND ROUND N C STDIN -- CMD...: one measured run of CMD on the
# client core, under `timeout REAL_TIMEOUT`; appends a row to raw.tsv.
rrun() {
  local w=$1 tool=$2 kind=$3 round=$4 n=$5 c=$6 in=$7
  shift 8
  local out=$REAL_DIR/out.txt err=$REAL_DIR/err.txt rc=0
  if [ "$round" = 1 ]; then
    printf '%s\t%s\t%s < %s\n' "$w" "$tool" "$(quote taskset -c "$CLIENT_CPU" "$@")" "$(rel "$in")" >>"$CMDS"
  fi
  dns_counts >/dev/null
  local tcp0 tcp1 udp0 udp1 s0 s1 t0 t1 b0 b1 tpid
  tcp0=$(snmp Tcp ActiveOpens)
  udp0=$(snmp Udp RcvbufErrors)
  b0=$(busy_ticks)
  s0=$(srv_ticks)
  t0=$(date +%s%N)
  /usr/bin/time -o "$REAL_DIR/time.txt" -f '%e %U %S %M' timeout -k 5 "$REAL_TIMEOUT" \
    taskset -c "$CLIENT_CPU" "$@" <"$in" >"$out" 2>"$err" &
  tpid=$!
  taskset -c "$SERVER_CPU" "$PY" bench/fdpeak.py "$tpid" >"$REAL_DIR/fdpeak.txt" &
  local fpid=$!
  wait "$tpid" || rc=$?
  t1=$(date +%s%N)
  s1=$(srv_ticks)
  b1=$(busy_ticks)
  wait "$fpid" || true
  tcp1=$(snmp Tcp ActiveOpens)
  udp1=$(snmp Udp RcvbufErrors)
  local user sys rss wall srv other fds thr samples fcpu records ok fails proto errs
  local d_total d_a d_aaaa d_other d_nx d_tcp d_inflight
  read -r d_total d_a d_aaaa d_other d_nx d_tcp d_inflight < <(dns_counts)
  read -r _ user sys rss < <(tail -n 1 "$REAL_DIR/time.txt")
  read -r fds thr samples fcpu <"$REAL_DIR/fdpeak.txt"
  wall=$(awk "BEGIN { printf \"%.4f\", ($t1 - $t0) / 1e9 }")
  srv=$(awk "BEGIN { printf \"%.2f\", ($s1 - $s0) / $CLK_TCK }")
  # CPU that neither the client, the servers nor the fd sampler used meanwhile (noise).
  other=$(awk "BEGIN { printf \"%.2f\", ($b1 - $b0) / $CLK_TCK - $srv - $user - $sys - $fcpu }")
  read -r records ok fails proto errs < <("$PY" bench/count_records.py "$kind" "$out")
  printf '%s\t' "$w" "$tool" "$round" "$n" "$c" "$wall" "$user" "$sys" "$rss" "$records" "$ok" "$fails" "$proto" "$rc" \
    "$fds" "$thr" "$samples" "$((tcp1 - tcp0))" "$d_total" "$d_a" "$d_aaaa" "$d_other" "$d_nx" "$d_tcp" "$d_inflight" \
    "$((udp1 - udp0))" "$srv" "$other" >>"$RAW"
  printf '%s\n' "$errs" >>"$RAW"
  log "$w $tool round $round: ${wall}s wall, $(awk "BEGIN { print $user + $sys }")s cpu, $((rss / 1024)) MiB," \
    "$fds fds, $((tcp1 - tcp0)) connections, $d_total DNS queries, $ok/$n ok ($records records, $fails failures," \
    "$proto, exit $rc$([ "$errs" = - ] || printf ', %s' "$errs")), servers ${srv}s cpu"
}

CURL_W='%{http_code} %{http_version} %{size_download} %{time_total} %{exitcode} %{url_effective}\n'
# The tools: TOOL WORKLOAD ROUND N C LIST [--http1.1]
# fetcher-stream runs without its default per-host cap (10), as its peers
# have none: W7 is one origin, where the cap alone would set the pace.
t_fetcher() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  rrun "$w" fetcher-stream json "$r" "$n" "$c" "$f" -- "$BIN" -q -c "$c" --max-per-host 0 -t 30 --cacert "$CA" "$@"
}
t_curl() {
  local w=$1 r=$2 n=$3 c=$4 f=$5
  shift 5
  rrun "$w" "curl --parallel" curl "$r" "$n" "$c" /dev/null -- curl --parallel --parallel-max "$c" --parallel-immediate \
    -s --no-progress-meter --max-time 30 --cacert "$CA" "$@" -w "$CURL_W" -K "${f%.txt}.curlcfg"
}
t_aiohttp() { # HTTP/1.1 only: the --http1.1 of the others is dropped
  local w=$1 r=$2 n=$3 c=$4 f=$5
  rrun "$w" aiohttp json "$r" "$n" "$c" "$f" -- "$PY" bench/aiohttp_ref.py -q -c "$c" -t 30 --cacert "$CA"
}
TOOLS=${REAL_TOOLS:-fetcher curl aiohttp}


# workload ID N HOSTS C DELAY_MS LIST DESCRIPTION [--http1.1]: every tool, REAL_ROUNDS
# rounds; HOSTS is how many distinct host names the list holds.
workload() {
  local id=$1 n=$2 hosts=$3 c=$4 delay=$5 list=$6 desc=$7 r t
  shift 7
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$n" "$hosts" "$c" "$delay" "${1:-h2}" "$desc" >>"$WL"
  log "$id: $desc ($n URLs, -c $c, DNS delay $delay ms, $REAL_ROUNDS round(s))"
  for r in $(seq "$REAL_ROUNDS"); do
    wait_quiet
    for t in $TOOLS; do "t_$t" "$id" "$r" "$n" "$c" "$list" "$@"; done
  done
}

log "warm-up"
"$BIN" -q -c 4 --cacert "$CA" <"$L/warm.txt" >/dev/null || true
"$PY" bench/aiohttp_ref.py -q -c 4 --cacert "$CA" <"$L/warm.txt" >/dev/null || true
curl --parallel -s --no-progress-meter --cacert "$CA" -K "$L/warm.curlcfg" >/dev/null 2>&1 || true

START=$(date +%s)
for c in $W6_CS; do
  workload "W6-$(kname "$W6_SMALL")-c$c" "$W6_SMALL" "$W6_SMALL" "$c" "$DELAY_MS" "$L/w6-small.txt" "distinct hosts"
done
for c in $W6_CS; do
  workload "W6-$(kname "$W6_BIG")-c$c" "$W6_BIG" "$W6_BIG" "$c" "$DELAY_MS" "$L/w6-big.txt" "distinct hosts"
done
workload W7 "$W7_N" 1 "$W7_C" "$DELAY_MS" "$L/w7.txt" "one HTTPS origin"
W8_N=$((W8_HOSTS * W8_PATHS))
workload W8-h2 "$W8_N" "$W8_HOSTS" "$W8_C" "$DELAY_MS" "$L/w8.txt" "$W8_HOSTS hosts × $W8_PATHS paths, interleaved"
workload W8-h1 "$W8_N" "$W8_HOSTS" "$W8_C" "$DELAY_MS" "$L/w8.txt" "$W8_HOSTS hosts × $W8_PATHS paths, interleaved, --http1.1" --http1.1
start_dns "$SLOW_DELAY_MS"
workload "W6-$(kname "$W6_SMALL")-c$SLOW_C-dns$SLOW_DELAY_MS" "$W6_SMALL" "$W6_SMALL" "$SLOW_C" "$SLOW_DELAY_MS" "$L/w6-small.txt" \
  "distinct hosts, DNS answers after $SLOW_DELAY_MS ms"
END=$(date +%s)

{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'commit\t%s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes)')"
  printf 'duration_s\t%s\n' "$((END - START))"
  printf 'rounds\t%s\n' "$REAL_ROUNDS"
  printf 'quiet_waited_s\t%s\n' "$QUIET_WAITED"
  printf 'quick\t%s\n' "$QUICK"
  printf 'timeout_s\t%s\n' "$REAL_TIMEOUT"
  printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
  printf 'curl\t%s\n' "$(curl --version | head -n 1)"
  printf 'aiohttp\t%s\n' "$("$PY" -c 'import aiohttp, sys; print("aiohttp", aiohttp.__version__, "/ Python", sys.version.split()[0])')"
  printf 'fetcher-stream\t%s\n' "$("$BIN" --version)"
  printf 'nofile\t%s\n' "$(ulimit -n)"
  printf 'server_cpu\t%s\n' "$SERVER_CPU"
  printf 'client_cpu\t%s\n' "$CLIENT_CPU"
  printf 'delay_ms\t%s\n' "$DELAY_MS"
  printf 'body_bytes\t%s\n' "$BODY_BYTES"
  printf 'unshare\t%s\n' "${REAL_UNSHARE:-unshare -n -m}"
  printf 'listen\t%s\n' "$LISTEN"
} >"$FACTS"
log "real-world section done ($((END - START)) s of measuring)"
