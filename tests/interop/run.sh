#!/usr/bin/env bash
# Interop suite for fetcher-stream against real server programs: nginx
# (static files over HTTP/1.1, and HTTPS with HTTP/2 via ALPN, plus an echo
# location that logs the request fields it received); httpbin under gunicorn
# (redirects, status codes, delays, drip, bytes); tinyproxy as an HTTP proxy
# with Basic credentials, whose log and Via field show that traffic went
# through it; and Dante (danted) as a SOCKS5 proxy, whose log shows the
# connections it made.
#
# It installs what is missing (Debian nginx, jq, openssl, tinyproxy,
# dante-server; PyPI httpbin,
# gunicorn and warcio in a venv under target/interop-venv), builds the release binary,
# makes a test CA and a server certificate with the openssl CLI under
# target/interop/, starts the servers on free loopback ports, runs the checks
# and stops the servers on exit, even on failure. Everything after the
# installs stays on 127.0.0.1.
#
# Output: one `ok - NAME` or `not ok - NAME: details` line per check, then
# `N passed, N failed`. Exit status 0 only when nothing failed.
#
# Usage: tests/interop/run.sh   (from anywhere; run as root on a fresh machine
# so that missing Debian packages can be installed)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
WORK=$TARGET/interop
VENV=$TARGET/interop-venv
BIN=$TARGET/release/fetcher-stream

log() { printf '# %s\n' "$*"; }
die() {
  printf 'interop: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- installs

# apt_install and load_cargo.
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"
load_cargo

NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
missing=()
[ -n "$NGINX" ] || missing+=(nginx)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v tinyproxy >/dev/null 2>&1 || missing+=(tinyproxy)
DANTED=$(command -v danted || true)
[ -n "$DANTED" ] || [ ! -x /usr/sbin/danted ] || DANTED=/usr/sbin/danted
[ -n "$DANTED" ] || missing+=(dante-server)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  apt_install "${missing[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found after install"
DANTED=$(command -v danted || echo /usr/sbin/danted)
[ -x "$DANTED" ] || die "danted not found after install"

if [ ! -x "$VENV/bin/gunicorn" ] || ! "$VENV/bin/python" -c 'import httpbin, gunicorn, warcio' >/dev/null 2>&1; then
  log "installing httpbin, gunicorn and warcio into $VENV (pip)"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    apt_install python3-venv
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check httpbin gunicorn warcio >/dev/null
fi

log "building the release binary"
cargo build --release --locked --quiet
[ -x "$BIN" ] || die "no binary at $BIN"
VERSION=$("$BIN" --version | awk '{print $2}')

# The checks choose their proxies themselves: none of the caller's proxy
# variables may reach the binary (the installs above may have needed them).
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# ---------------------------------------------------------------- fixtures

rm -rf "$WORK"
mkdir -p "$WORK"/{www,logs,tmp,pki}
cd "$WORK"

head -c 0 /dev/zero >www/0b.bin
head -c 1 /dev/urandom >www/1b.bin
head -c 1048576 /dev/urandom >www/1m.bin
head -c 52428800 /dev/urandom >www/50m.bin

# Test CA, and a server certificate for example.test and 127.0.0.1 signed by it.
(
  cd pki
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj "/CN=fetcher-stream interop test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout server.key -out server.csr -subj "/CN=example.test" 2>/dev/null
  cat >server.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:example.test,IP:127.0.0.1
EOF
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile server.ext -out server.pem 2>/dev/null
)
CA=$WORK/pki/ca.pem

# Six distinct free loopback ports (all bound at once, then released).
read -r HTTP_PORT TLS_PORT HB_PORT PROXY_PORT SOCKS_PORT GOAWAY_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)
NG=http://127.0.0.1:$HTTP_PORT
NGS=https://example.test:$TLS_PORT
HB=http://127.0.0.1:$HB_PORT
RESOLVE=(--resolve "example.test:$TLS_PORT:127.0.0.1" --cacert "$CA")
# Credentials user / pass, the password partly percent-encoded (decoded before use).
PX=http://user:pa%73s@127.0.0.1:$PROXY_PORT

# ---------------------------------------------------------------- servers

NGINX_PID=
GUNICORN_PID=
TINYPROXY_PID=
DANTED_PID=
stop_servers() {
  local pid
  for pid in "$NGINX_PID" "$GUNICORN_PID" "$TINYPROXY_PID" "$DANTED_PID"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$NGINX_PID" "$GUNICORN_PID" "$TINYPROXY_PID" "$DANTED_PID"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NGINX_PID= GUNICORN_PID= TINYPROXY_PID= DANTED_PID=
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# HTTP/2 syntax: `http2 on;` from nginx 1.25.1, `listen ... ssl http2` before.
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
if printf '1.25.1\n%s\n' "$NGINX_VERSION" | sort -V -C; then
  TLS_LISTEN="listen 127.0.0.1:$TLS_PORT ssl;"
  GOAWAY_LISTEN="listen 127.0.0.1:$GOAWAY_PORT ssl;"
  HTTP2_ON="http2 on;"
else
  TLS_LISTEN="listen 127.0.0.1:$TLS_PORT ssl http2;"
  GOAWAY_LISTEN="listen 127.0.0.1:$GOAWAY_PORT ssl http2;"
  HTTP2_ON=""
fi
USER_LINE=""
[ "$(id -u)" != 0 ] || USER_LINE="user root;" # workers must read files under target/
cat >nginx.conf <<EOF
$USER_LINE
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 60s;
  keepalive_requests 10000;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  log_format conn escape=json '{"conn":\$connection,"reqs":\$connection_requests,"proto":"\$server_protocol","uri":"\$request_uri","status":\$status,"bytes":\$body_bytes_sent}';
  log_format echo escape=json '{"case":"\$arg_case","request":"\$request","proto":"\$server_protocol","host":"\$host","http_host":"\$http_host","ua":"\$http_user_agent","auth":"\$http_authorization","cookie":"\$http_cookie","xtest":"\$http_x_test","via":"\$http_via"}';
  server {
    listen 127.0.0.1:$HTTP_PORT;
    $TLS_LISTEN
    $HTTP2_ON
    server_name example.test 127.0.0.1;
    ssl_certificate $WORK/pki/server.pem;
    ssl_certificate_key $WORK/pki/server.key;
    root $WORK/www;
    access_log $WORK/logs/access.log conn;
    location = /echo { access_log $WORK/logs/echo.log echo; return 200 "echo\n"; }
    location = /to-echo { return 302 /echo?case=\$arg_case; }
  }
  # Ends each connection with GOAWAY after 7 requests (HTTP/2 too from
  # nginx 1.19.7): streams above the last one it took are refused.
  server {
    $GOAWAY_LISTEN
    $HTTP2_ON
    server_name example.test;
    keepalive_requests 7;
    ssl_certificate $WORK/pki/server.pem;
    ssl_certificate_key $WORK/pki/server.key;
    root $WORK/www;
    access_log $WORK/logs/goaway.log conn;
  }
}
EOF

"$NGINX" -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" ||
  die "nginx -t failed: $(cat logs/error.log)"
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" >>logs/error.log 2>&1 &
NGINX_PID=$!

gunicorn_args=(-k gthread --threads 32 -w 2 -b "127.0.0.1:$HB_PORT" --graceful-timeout 2
  --access-logfile "$WORK/logs/gunicorn-access.log" --error-logfile "$WORK/logs/gunicorn.log")
# gunicorn 24+ opens a control socket under ~/.gunicorn unless told not to.
if "$VENV/bin/gunicorn" --help 2>/dev/null | grep -q -- --no-control-socket; then
  gunicorn_args+=(--no-control-socket)
fi
"$VENV/bin/gunicorn" "${gunicorn_args[@]}" httpbin:app >>logs/gunicorn.log 2>&1 &
GUNICORN_PID=$!

# tinyproxy in the foreground (-d), on loopback, with Basic credentials
# user / pass; it logs each request line and CONNECT, and adds a Via field.
cat >tinyproxy.conf <<EOF
Port $PROXY_PORT
Listen 127.0.0.1
Timeout 30
LogFile "$WORK/logs/tinyproxy.log"
LogLevel Info
PidFile "$WORK/tinyproxy.pid"
MaxClients 64
Allow 127.0.0.1
BasicAuth user pass
EOF
tinyproxy -d -c "$WORK/tinyproxy.conf" >>logs/tinyproxy.out 2>&1 &
TINYPROXY_PID=$!

# Dante as a SOCKS5 proxy on loopback, no authentication (its user name
# method needs system accounts), logging every connection it makes.
DANTE_USERS=""
[ "$(id -u)" != 0 ] || DANTE_USERS=$'user.privileged: root\nuser.unprivileged: nobody'
cat >danted.conf <<EOF
logoutput: $WORK/logs/danted.log
internal: 127.0.0.1 port = $SOCKS_PORT
external: 127.0.0.1
clientmethod: none
socksmethod: none
$DANTE_USERS
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error connect disconnect
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: error connect disconnect
}
EOF
"$DANTED" -f "$WORK/danted.conf" -p "$WORK/danted.pid" >>logs/danted.out 2>&1 &
DANTED_PID=$!

# fs URL... -- OPTIONS...: run the release binary on the URLs (one a line), print
# its records. Never fails (exit 1 just means some record is a failure); a
# run over 60 s is killed. Each check talks to one server, so the default
# per-host cap (10) is off: -c alone sets the concurrency.
fs() {
  local urls=() opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do urls+=("$1"); shift; done
  [ $# -eq 0 ] || shift
  opts=("$@")
  printf '%s\n' "${urls[@]}" | timeout -k 5 60 "$BIN" -q --max-per-host 0 "${opts[@]}" || true
}

wait_up() { # NAME PID URL [OPTIONS...]
  local name=$1 pid=$2 url=$3
  shift 3
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -n 20 logs/*.log)"
    if fs "$url" -- -t 1 "$@" | jq -e 'select(.type == "success")' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "$name did not answer on $url within 30 s: $(tail -n 20 logs/*.log)"
}
wait_up nginx "$NGINX_PID" "$NG/1b.bin"
wait_up "nginx (TLS)" "$NGINX_PID" "$NGS/1b.bin" "${RESOLVE[@]}"
wait_up gunicorn "$GUNICORN_PID" "$HB/get"
wait_up tinyproxy "$TINYPROXY_PID" "$NG/1b.bin?wait-up" -x "$PX"
wait_up danted "$DANTED_PID" "$NG/1b.bin?wait-up" -x "socks5://127.0.0.1:$SOCKS_PORT"
log "nginx $NGINX_VERSION on $HTTP_PORT (HTTP/1.1) and $TLS_PORT (HTTPS, HTTP/2: ${HTTP2_ON:-listen ssl http2}); httpbin on $HB_PORT; tinyproxy on $PROXY_PORT; danted on $SOCKS_PORT"

# ---------------------------------------------------------------- checks

PASSED=0
FAILED=0
ok() {
  PASSED=$((PASSED + 1))
  printf 'ok - %s\n' "$1"
}
not_ok() {
  FAILED=$((FAILED + 1))
  printf 'not ok - %s: %s\n' "$1" "$2"
}
# expect NAME RECORDS JQ: JQ, run on the records as one array, must give true.
expect() {
  local name=$1 records=$2 filter=$3
  if printf '%s\n' "$records" | jq -se "$filter" >/dev/null 2>&1; then
    ok "$name"
  else
    not_ok "$name" "expected jq '$(printf '%s' "$filter" | tr -s ' \n' ' ')' to hold; records: $(printf '%s' "$records" | head -c 1500 | tr '\n' ' ')"
  fi
}
# One success record per URL, in any order, with these exact fields.
# one_success NAME URL STATUS SIZE VERSION [OPTIONS...]
one_success() {
  local name=$1 url=$2 status=$3 size=$4 version=$5
  shift 5
  local recs
  recs=$(fs "$url" -- "$@")
  expect "$name" "$recs" "length == 1 and .[0].type == \"success\" and .[0].url == \"$url\"
    and .[0].status == $status and .[0].size == $size and .[0].http_version == \"$version\""
}
# One failure record of this kind, within the deadline (+ slack).
# one_failure NAME URL KIND MAX_MS [OPTIONS...]
one_failure() {
  local name=$1 url=$2 kind=$3 max_ms=$4
  shift 4
  local recs
  recs=$(fs "$url" -- "$@")
  expect "$name" "$recs" "length == 1 and .[0].type == \"failure\" and .[0].url == \"$url\"
    and .[0].error_kind == \"$kind\" and .[0].elapsed_ms <= $max_ms"
}
# Log lines (JSON) from nginx's LOG whose JQ selects; waits up to 3 s for COUNT.
log_lines() { # LOG JQ_SELECT COUNT
  local lines
  for _ in $(seq 30); do
    lines=$(jq -c "select($2)" "$1" 2>/dev/null || true)
    if [ "$(printf '%s' "$lines" | grep -c . || true)" -ge "$3" ]; then break; fi
    sleep 0.1
  done
  printf '%s\n' "$lines"
}
echo_line() { # CASE: the echo.log record for ?case=CASE (exactly one expected)
  log_lines logs/echo.log ".case == \"$1\"" 1
}

# --if-changed: a second run sends the first run's ETag and Last-Modified;
# nginx answers 304 for the unchanged file and 200 for the one rewritten in
# between (a new size and mtime give a new ETag).
check_if_changed() {
  local first recs
  printf 'one\n' >www/same.txt
  printf 'two\n' >www/changed.txt
  touch -d '2020-01-01 00:00:00' www/same.txt www/changed.txt
  first=$(fs "$NG/same.txt" "$NG/changed.txt" --)
  printf '%s\n' "$first" >tmp/first.jsonl
  expect "nginx: a first run records etag and last_modified" "$first" \
    'length == 2 and all(.[]; .status == 200 and (.etag | type) == "string" and (.last_modified | type) == "string")'
  printf 'changed, longer\n' >www/changed.txt
  recs=$(fs "$NG/same.txt" "$NG/changed.txt" -- --if-changed tmp/first.jsonl)
  expect "nginx --if-changed: 304 not_modified for the same file, 200 for the changed one" "$recs" \
    "(map(select(.url == \"$NG/same.txt\"))[0] | .status == 304 and .not_modified == true and .size == 0)
     and (map(select(.url == \"$NG/changed.txt\"))[0] | .status == 200 and .not_modified == null and .size == 16)"
}

check_static_sizes() {
  local f size label
  for f in 0b:0:"0 B" 1b:1:"1 B" 1m:1048576:"1 MiB" 50m:52428800:"50 MiB"; do
    IFS=: read -r f size label <<<"$f"
    one_success "nginx http $label file: size $size, HTTP/1.1" "$NG/$f.bin" 200 "$size" HTTP/1.1 -t 60
    one_success "nginx https $label file: size $size, HTTP/2.0" "$NGS/$f.bin" 200 "$size" HTTP/2.0 -t 60 "${RESOLVE[@]}"
  done
  # All four at once on one connection each way (concurrent streams on HTTP/2).
  local recs
  recs=$(fs "$NGS/0b.bin" "$NGS/1b.bin" "$NGS/1m.bin" "$NGS/50m.bin" -- -t 60 -c 4 "${RESOLVE[@]}")
  expect "nginx https: 4 files concurrently, exact sizes" "$recs" \
    'length == 4 and all(.type == "success" and .http_version == "HTTP/2.0")
     and ([.[] | .size] | sort) == [0, 1, 1048576, 52428800]'
}

check_not_found() {
  one_success "nginx http 404 is a success record with status 404" "$NG/missing.bin" 404 "$(fs "$NG/missing.bin" -- | jq '.size')" HTTP/1.1
  local recs
  recs=$(fs "$NG/missing.bin" "$NGS/missing.bin" -- "${RESOLVE[@]}")
  expect "nginx 404 over http and https" "$recs" \
    'length == 2 and all(.type == "success" and .status == 404 and .size > 0)
     and ([.[] | .http_version] | sort) == ["HTTP/1.1", "HTTP/2.0"]'
}

check_tls_ip_san() {
  one_success "https to 127.0.0.1 verifies against the IP SAN (--cacert)" \
    "https://127.0.0.1:$TLS_PORT/1b.bin" 200 1 HTTP/2.0 --cacert "$CA"
}

check_keep_alive() { # SCHEME BASE [OPTIONS...]
  local scheme=$1 base=$2
  shift 2
  local n=500 tag="ka-$scheme-$RANDOM" urls=() i recs lines stats
  for i in $(seq "$n"); do urls+=("$base/1b.bin?$tag=$i"); done
  recs=$(fs "${urls[@]}" -- -c 8 "$@")
  expect "keep-alive $scheme: $n URLs at -c 8 all succeed" "$recs" \
    "length == $n and all(.type == \"success\" and .status == 200 and .size == 1)
     and ([.[] | .url] | unique | length) == $n"
  lines=$(log_lines logs/access.log ".uri | contains(\"$tag=\")" "$n")
  stats=$(printf '%s\n' "$lines" | jq -sc '{requests: length, connections: ([.[] | .conn] | unique | length), max_per_conn: ([.[] | .reqs] | max)}')
  expect "keep-alive $scheme: nginx saw $n requests on at most 32 connections $stats" "$stats" \
    ".[0].requests == $n and .[0].connections <= 32 and .[0].max_per_conn > 1"
}

check_goaway() {
  local n=500 urls=() i recs
  for i in $(seq "$n"); do urls+=("https://example.test:$GOAWAY_PORT/1b.bin?goaway=$i"); done
  recs=$(fs "${urls[@]}" -- -c 64 -t 20 --resolve "example.test:$GOAWAY_PORT:127.0.0.1" --cacert "$CA")
  expect "GOAWAY after 7 requests at -c 64: all $n URLs succeed over HTTP/2" "$recs" \
    "length == $n and all(.type == \"success\" and .status == 200 and .http_version == \"HTTP/2.0\")"
}

check_headers() {
  local recs line
  recs=$(fs "$NG/echo?case=default" -- -t 5)
  line=$(echo_line default)
  expect "default User-Agent is fetcher-stream/$VERSION" "$line" \
    "length == 1 and .[0].ua == \"fetcher-stream/$VERSION\" and .[0].auth == \"\""

  recs=$(fs "$NG/echo?case=custom" -- -A 'interop-agent/1.0' -H 'X-Test: hello world' -H 'Authorization: Bearer secret')
  line=$(echo_line custom)
  expect "-A and -H fields arrive (same origin: Authorization sent)" "$line" \
    'length == 1 and .[0].ua == "interop-agent/1.0" and .[0].xtest == "hello world" and .[0].auth == "Bearer secret"'

  recs=$(fs "$NGS/echo?case=custom-h2" -- -A 'interop-agent/1.0' -H 'X-Test: over h2' "${RESOLVE[@]}")
  line=$(echo_line custom-h2)
  expect "-A and -H fields arrive over HTTP/2; Host is example.test" "$line" \
    'length == 1 and .[0].proto == "HTTP/2.0" and .[0].ua == "interop-agent/1.0" and .[0].xtest == "over h2" and .[0].host == "example.test"'

  recs=$(fs "$NG/to-echo?case=same-redirect" -- -H 'Authorization: Bearer secret' -H 'Cookie: a=b' -H 'X-Test: kept')
  line=$(echo_line same-redirect)
  expect "same-origin redirect keeps Authorization and Cookie" "$(printf '%s\n%s' "$recs" "$line")" \
    ".[0].type == \"success\" and .[0].final_url == \"$NG/echo?case=same-redirect\"
     and .[1].auth == \"Bearer secret\" and .[1].cookie == \"a=b\" and .[1].xtest == \"kept\""

  local target="$NG/echo?case=cross-redirect" enc
  enc=$(jq -rn --arg u "$target" '$u | @uri')
  recs=$(fs "$HB/redirect-to?url=$enc&status_code=302" -- -H 'Authorization: Bearer secret' -H 'Cookie: a=b' -H 'X-Test: kept')
  line=$(echo_line cross-redirect)
  expect "cross-origin redirect (httpbin -> nginx) drops Authorization and Cookie, keeps X-Test" "$(printf '%s\n%s' "$recs" "$line")" \
    ".[0].type == \"success\" and .[0].status == 200 and .[0].final_url == \"$target\"
     and (.|length) == 2 and .[1].auth == \"\" and .[1].cookie == \"\" and .[1].xtest == \"kept\""

  recs=$(fs "http://u:p@127.0.0.1:$HTTP_PORT/echo?case=userinfo")
  line=$(echo_line userinfo)
  expect "userinfo becomes Authorization: Basic, absent from request line and Host" "$(printf '%s\n%s' "$recs" "$line")" \
    ".[0].type == \"success\" and .[0].status == 200
     and .[1].auth == \"Basic dTpw\" and .[1].request == \"GET /echo?case=userinfo HTTP/1.1\"
     and .[1].http_host == \"127.0.0.1:$HTTP_PORT\""

  target="$NG/echo?case=userinfo-cross"
  enc=$(jq -rn --arg u "$target" '$u | @uri')
  recs=$(fs "http://u:p@127.0.0.1:$HB_PORT/redirect-to?url=$enc" --)
  line=$(echo_line userinfo-cross)
  expect "userinfo credentials not sent after a cross-origin redirect" "$(printf '%s\n%s' "$recs" "$line")" \
    ".[0].type == \"success\" and (.|length) == 2 and .[1].auth == \"\""

  recs=$(fs "$NG/echo?case=fragment#sec")
  line=$(echo_line fragment)
  expect "fragment is not sent; url echoes the input" "$(printf '%s\n%s' "$recs" "$line")" \
    ".[0].url == \"$NG/echo?case=fragment#sec\" and .[0].status == 200
     and .[1].request == \"GET /echo?case=fragment HTTP/1.1\""
}

check_redirects() {
  local kind s enc recs
  for kind in redirect relative-redirect absolute-redirect; do
    one_success_final "httpbin /$kind/3 -> /get" "$HB/$kind/3" "$HB/get"
  done
  enc=$(jq -rn --arg u "$HB/get" '$u | @uri')
  for s in 301 302 303 307 308; do
    one_success_final "httpbin /redirect-to (absolute) status_code=$s -> /get" "$HB/redirect-to?url=$enc&status_code=$s" "$HB/get"
    one_success_final "httpbin /redirect-to (relative) status_code=$s -> /get" "$HB/redirect-to?url=%2Fget&status_code=$s" "$HB/get"
  done
  one_success_final "httpbin /redirect/10 (the default limit) succeeds" "$HB/redirect/10" "$HB/get"
  one_failure "httpbin /redirect/11 -> too_many_redirects" "$HB/redirect/11" too_many_redirects 5000
  one_failure "httpbin /redirect/3 with --max-redirects 2 -> too_many_redirects" "$HB/redirect/3" too_many_redirects 5000 --max-redirects 2
  recs=$(fs "$HB/redirect/1" -- --max-redirects 0)
  expect "httpbin /redirect/1 with --max-redirects 0 gives the 302 itself" "$recs" \
    'length == 1 and .[0].type == "success" and .[0].status == 302 and (.[0] | has("final_url") | not)'
  # Several redirect chains concurrently share the pool.
  recs=$(fs "$HB/redirect/5" "$HB/relative-redirect/5" "$HB/absolute-redirect/5" "$HB/redirect/4" "$HB/redirect/2" -- -c 5)
  expect "httpbin: 5 redirect chains concurrently" "$recs" \
    "length == 5 and all(.type == \"success\" and .status == 200 and .final_url == \"$HB/get\")"
}
one_success_final() { # NAME URL FINAL_URL [OPTIONS...]
  local name=$1 url=$2 final=$3
  shift 3
  local recs
  recs=$(fs "$url" -- "$@")
  expect "$name" "$recs" "length == 1 and .[0].type == \"success\" and .[0].url == \"$url\"
    and .[0].status == 200 and .[0].final_url == \"$final\" and .[0].http_version == \"HTTP/1.1\""
}

check_status() {
  local s urls=() recs
  for s in 200 201 204 400 401 403 404 418 429 500 502 503; do urls+=("$HB/status/$s"); done
  recs=$(fs "${urls[@]}" -- -c 12)
  expect "httpbin /status/N: 12 codes, each a success with that status" "$recs" \
    'length == 12 and all(.type == "success" and (.status as $s | .url | endswith("/status/\($s)")))'
}

check_deadlines() {
  one_failure "httpbin /delay/3 with -t 1 -> timeout near 1 s" "$HB/delay/3" timeout 1500 -t 1
  local recs
  recs=$(fs "$HB/delay/3" -- -t 1)
  expect "httpbin /delay/3 with -t 1 took at least 1 s" "$recs" '.[0].elapsed_ms >= 990'
  one_failure "httpbin /drip?duration=5&numbytes=5 with -t 1 -> timeout (body slower than deadline)" \
    "$HB/drip?duration=5&numbytes=5" timeout 1500 -t 1
  one_success "httpbin /drip?duration=1&numbytes=5 with -t 5 -> 5 bytes" "$HB/drip?duration=1&numbytes=5" 200 5 HTTP/1.1 -t 5
  one_success "httpbin /delay/1 with -t 5 succeeds" "$HB/delay/1" 200 "$(fs "$HB/delay/1" -- | jq '.size')" HTTP/1.1 -t 5
  # Concurrent delays: 8 x /delay/1 at -c 8 take about 1 s, not 8.
  local urls=() i
  for i in $(seq 8); do urls+=("$HB/delay/1?i=$i"); done
  recs=$(fs "${urls[@]}" -- -c 8 -t 5)
  expect "httpbin: 8 x /delay/1 at -c 8 run concurrently (each under 3 s)" "$recs" \
    'length == 8 and all(.type == "success" and .status == 200 and .elapsed_ms < 3000)'
}

check_bytes() {
  local n
  for n in 0 1 1024 102400; do
    one_success "httpbin /bytes/$n size" "$HB/bytes/$n" 200 "$n" HTTP/1.1
  done
  for n in 1 1000 10240 102400; do
    one_success "httpbin /stream-bytes/$n (chunked) size" "$HB/stream-bytes/$n?chunk_size=1000" 200 "$n" HTTP/1.1
  done
}

check_basic_auth() {
  one_success "httpbin /basic-auth/u/p with http://u:p@ -> 200" "http://u:p@127.0.0.1:$HB_PORT/basic-auth/u/p" 200 \
    "$(fs "http://u:p@127.0.0.1:$HB_PORT/basic-auth/u/p" -- | jq '.size')" HTTP/1.1
  local recs
  recs=$(fs "$HB/basic-auth/u/p" "http://u:wrong@127.0.0.1:$HB_PORT/basic-auth/u/p" --)
  expect "httpbin /basic-auth/u/p without or with wrong credentials -> 401" "$recs" \
    'length == 2 and all(.type == "success" and .status == 401)'
  recs=$(fs "http://us%40r:p%3Ass@127.0.0.1:$HB_PORT/basic-auth/us@r/p:ss" --)
  expect "percent-encoded userinfo is decoded before Basic encoding" "$recs" \
    'length == 1 and .[0].type == "success" and .[0].status == 200'
}

# Through tinyproxy: its log and the Via field it adds show
# the traffic went through it.
proxy_log_has() { # FIXED_STRING: tinyproxy logged it (waits up to 3 s)
  for _ in $(seq 30); do
    grep -q -F -- "$1" logs/tinyproxy.log && return 0
    sleep 0.1
  done
  return 1
}
check_proxy() {
  local recs line seen
  recs=$(fs "$NG/echo?case=via-proxy" -- -x "$PX")
  line=$(echo_line via-proxy)
  seen=false
  proxy_log_has "GET $NG/echo?case=via-proxy HTTP/1.1" && seen=true
  expect "-x http://user:pa%73s@tinyproxy: http in absolute form, through the proxy (log, Via)" \
    "$(printf '%s\n%s\n%s' "$recs" "$line" "$seen")" \
    '.[0].type == "success" and .[0].status == 200 and (.[1].via | contains("tinyproxy")) and .[2] == true'

  recs=$(fs "https://127.0.0.1:$TLS_PORT/1b.bin?via-proxy" -- -x "$PX" --cacert "$CA")
  seen=false
  proxy_log_has "CONNECT 127.0.0.1:$TLS_PORT HTTP/1.1" && seen=true
  expect "-x tinyproxy: https through a CONNECT tunnel, HTTP/2 with nginx inside it" \
    "$(printf '%s\n%s' "$recs" "$seen")" \
    '.[0].type == "success" and .[0].status == 200 and .[0].size == 1 and .[0].http_version == "HTTP/2.0" and .[1] == true'

  recs=$(fs "https://127.0.0.1:$TLS_PORT/1b.bin" "$NG/1b.bin?bad-credentials" -- -x "http://user:wrong@127.0.0.1:$PROXY_PORT" --cacert "$CA")
  expect "tinyproxy refuses wrong credentials: https -> proxy failure, http -> the proxy's 401" "$recs" \
    '(map(select(.type == "failure")) | length == 1 and .[0].error_kind == "proxy" and (.[0].error | contains("401")))
     and (map(select(.type == "success")) | length == 1 and .[0].status == 401)'

  recs=$(http_proxy=$PX fs "$NG/echo?case=env-proxy")
  line=$(echo_line env-proxy)
  expect "http_proxy in the environment is used" "$(printf '%s\n%s' "$recs" "$line")" \
    '.[0].status == 200 and (.[1].via | contains("tinyproxy"))'
  recs=$(http_proxy=$PX no_proxy=127.0.0.1 fs "$NG/echo?case=no-proxy")
  line=$(echo_line no-proxy)
  expect "no_proxy=127.0.0.1 goes direct" "$(printf '%s\n%s' "$recs" "$line")" \
    '.[0].status == 200 and .[1].via == ""'
}

# Dante logs `tcp/connect [: CLIENT PROXY -> OUT TARGET` (address.port) for
# each connection it makes.
socks_connects() { # PORT: how many connections Dante made to 127.0.0.1:PORT
  grep -c "tcp/connect \[: .* 127\.0\.0\.1\.$1\$" logs/danted.log || true
}
socks_connected() { # PORT BEFORE: waits up to 3 s for more than BEFORE
  for _ in $(seq 30); do
    [ "$(socks_connects "$1")" -gt "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
check_socks() {
  local recs seen before
  before=$(socks_connects "$HTTP_PORT")
  recs=$(fs "http://localhost:$HTTP_PORT/1b.bin?via-socks5h" -- -x "socks5h://127.0.0.1:$SOCKS_PORT")
  seen=false
  socks_connected "$HTTP_PORT" "$before" && seen=true
  expect "-x socks5h://danted: the proxy resolves localhost and connects" "$(printf '%s\n%s' "$recs" "$seen")" \
    '.[0].type == "success" and .[0].status == 200 and .[0].size == 1 and .[1] == true'

  before=$(socks_connects "$TLS_PORT")
  recs=$(fs "https://127.0.0.1:$TLS_PORT/1b.bin?via-socks5" -- -x "socks5://127.0.0.1:$SOCKS_PORT" --cacert "$CA")
  seen=false
  socks_connected "$TLS_PORT" "$before" && seen=true
  expect "-x socks5://danted: https with HTTP/2 through the SOCKS5 connection" "$(printf '%s\n%s' "$recs" "$seen")" \
    '.[0].type == "success" and .[0].status == 200 and .[0].http_version == "HTTP/2.0" and .[1] == true'
}

# --warc and --output-dir against nginx, over HTTP/1.1 and HTTPS with
# HTTP/2: warcio checks every digest (`warcio check`) and its index lists
# the records: warcinfo, then request and response per hop (the 302 of
# /to-echo too), in order, with their target URIs.
check_warc() {
  local warc=$WORK/nginx.warc.gz recs out index sizes size path
  rm -rf "$WORK/bodies"
  recs=$(fs "$NG/1m.bin" "$NG/to-echo?case=warc" "$NGS/1b.bin" "$NGS/missing.bin" -- \
    -c 1 --warc "$warc" --output-dir "$WORK/bodies" "${RESOLVE[@]}")
  sizes=""
  while IFS=$'\t' read -r size path; do
    sizes+="[$size,$(stat -c %s "$path" 2>/dev/null || echo null)]"$'\n'
  done < <(printf '%s\n' "$recs" | jq -r '[.size, .body_path] | @tsv')
  expect "--output-dir: each record's body_path holds its size in bytes" "$sizes" \
    'length == 4 and all(.[0] == .[1])'
  if out=$("$VENV/bin/warcio" check -v "$warc" 2>&1); then
    ok "warcio check: every digest of the WARC written against nginx passes"
  else
    not_ok "warcio check" "$(printf '%s' "$out" | tail -n 20 | tr '\n' ' ')"
  fi
  index=$("$VENV/bin/warcio" index -f warc-type,warc-target-uri,http:status "$warc" 2>&1 || true)
  expect "warcio index: warcinfo, then request and response per hop in order" "$index" \
    "map([.\"warc-type\", .\"warc-target-uri\", .\"http:status\"]) == [
       [\"warcinfo\", null, null],
       [\"request\", \"$NG/1m.bin\", null], [\"response\", \"$NG/1m.bin\", \"200\"],
       [\"request\", \"$NG/to-echo?case=warc\", null], [\"response\", \"$NG/to-echo?case=warc\", \"302\"],
       [\"request\", \"$NG/echo?case=warc\", null], [\"response\", \"$NG/echo?case=warc\", \"200\"],
       [\"request\", \"$NGS/1b.bin\", null], [\"response\", \"$NGS/1b.bin\", \"200\"],
       [\"request\", \"$NGS/missing.bin\", null], [\"response\", \"$NGS/missing.bin\", \"404\"]]"
  log "warcio check -v and index of $warc:"
  printf '%s\n' "$out" "$index" | sed 's/^/#   /'
}

check_static_sizes
check_if_changed
check_not_found
check_tls_ip_san
check_keep_alive http "$NG"
check_keep_alive https "$NGS" "${RESOLVE[@]}"
check_goaway
check_headers
check_redirects
check_status
check_deadlines
check_bytes
check_basic_auth
check_proxy
check_socks
check_warc

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" = 0 ]
