#!/usr/bin/env bash
# Scale-out test for fetcher-stream: `--shard K/N` over GNU parallel and real
# ssh, with contrib/parallel-shards.sh.
#
# An sshd started here (its own config, host key, client key and
# authorized_keys under target/scaleout/ssh, ListenAddress 127.0.0.1-3 on a
# free port) stands in for three machines: 127.0.0.1, 127.0.0.2 and
# 127.0.0.3. Two Python HTTP servers (tests/scaleout/server.py) on
# 127.0.0.1 and 127.0.0.2 are the sites. The checks:
#
# 0. The script's --help and -h print its usage and exit 0; an unknown
#    option exits 2.
# 1. The script runs 3 shards of a mixed list (hosts by IP literal and by
#    `*.localhost` name, http and scheme-less lines, a dead port, lines that
#    cannot be fetched, duplicates, a comment and a blank line), one job on
#    each "machine"; the gathered records equal one unsharded run's as a
#    multiset of (url, type, status, error_kind), and each shard's summary
#    says total + other_shard = the lines read.
# 2. Resume: one shard is killed (SIGKILL)
#    while a request of it is held by the server, then the script runs every
#    shard with --resume; the gathered records again equal an unsharded run's.
#
# It installs what is missing (Debian parallel, openssh-server,
# openssh-client, python3, jq), builds the release binary, and stops
# everything it started on exit, even on failure. No traffic leaves
# 127.0.0.0/8, and no system configuration is read or changed (sshd needs
# its privilege separation directory /run/sshd: made if missing, and removed
# again).
#
# Output: one `ok - NAME` or `not ok - NAME: details` line per check, then
# `N passed, N failed`. Exit status 0 only when nothing failed.
#
# Usage: tests/scaleout/run.sh   (as root on a fresh machine, so that missing
# packages can be installed and sshd can run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
WORK=$TARGET/scaleout
BIN=$TARGET/release/fetcher-stream
SCRIPT=$ROOT/contrib/parallel-shards.sh

log() { printf '# %s\n' "$*"; }
die() {
  printf 'scaleout: %s\n' "$*" >&2
  exit 1
}

# apt_install and load_cargo.
# shellcheck source=.ci/lib.sh
. "$ROOT/.ci/lib.sh"
load_cargo

missing=()
command -v parallel >/dev/null 2>&1 || missing+=(parallel)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  apt_install "${missing[@]}"
fi

log "building the release binary"
cargo build --release --locked --quiet

# ------------------------------------------------------------ processes

pids=()
made_run_sshd=0
cleanup() {
  local pid
  rm -f "$WORK/hold"
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$made_run_sshd" = 1 ]; then rmdir /run/sshd 2>/dev/null || true; fi
}
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK/ssh"

# until_true SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# fails after SECONDS. Waits for a condition, never for a time.
until_true() {
  local limit=$(($1 * 10)) i=0
  shift
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -le "$limit" ] || return 1
    sleep 0.1
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The sites.
python3 "$ROOT/tests/scaleout/server.py" 127.0.0.1 "$WORK" a &
pids+=($!)
python3 "$ROOT/tests/scaleout/server.py" 127.0.0.2 "$WORK" b &
pids+=($!)
until_true 10 test -s "$WORK/a.port" || die "server a did not start"
until_true 10 test -s "$WORK/b.port" || die "server b did not start"
PA=$(cat "$WORK/a.port")
PB=$(cat "$WORK/b.port")
DEAD=$(free_port)

# The "machines": one sshd on three loopback addresses.
SSHD_DIR=$WORK/ssh
SSH_PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -C scaleout-host -f "$SSHD_DIR/host_key"
ssh-keygen -q -t ed25519 -N '' -C scaleout-client -f "$SSHD_DIR/client_key"
cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
chmod 600 "$SSHD_DIR/authorized_keys"
cat >"$SSHD_DIR/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
ListenAddress 127.0.0.3
HostKey $SSHD_DIR/host_key
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $SSHD_DIR/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
MaxStartups 50
MaxSessions 50
EOF
for ip in 127.0.0.1 127.0.0.2 127.0.0.3; do
  printf '[%s]:%s %s\n' "$ip" "$SSH_PORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_key.pub")"
done >"$SSHD_DIR/known_hosts"
cat >"$SSHD_DIR/ssh_config" <<EOF
Host *
  Port $SSH_PORT
  IdentityFile $SSHD_DIR/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $SSHD_DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
EOF
SSH=$SSHD_DIR/ssh
printf '#!/bin/sh\nexec ssh -F %s "$@"\n' "$SSHD_DIR/ssh_config" >"$SSH"
chmod +x "$SSH"
if [ ! -d /run/sshd ]; then
  mkdir -p /run/sshd
  made_run_sshd=1
fi
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" 2>"$SSHD_DIR/sshd.log" &
pids+=($!)
for ip in 127.0.0.1 127.0.0.2 127.0.0.3; do
  until_true 10 "$SSH" "$ip" true || die "sshd on $ip:$SSH_PORT did not answer: $(tail -n 5 "$SSHD_DIR/sshd.log")"
done
log "sshd on 127.0.0.1-3 port $SSH_PORT; sites on 127.0.0.1:$PA and 127.0.0.2:$PB"

# ------------------------------------------------------------ checks

passed=0 failed=0
ok() {
  printf 'ok - %s\n' "$1"
  passed=$((passed + 1))
}
not_ok() {
  printf 'not ok - %s: %s\n' "$1" "$2"
  failed=$((failed + 1))
}

# The options every run gets: scheme-less lines are http, 2 requests per
# host at most.
OPTS=(--default-scheme http --timeout 20 --max-per-host 2)
LOGINS=1/127.0.0.1,1/127.0.0.2,1/127.0.0.3

# The mixed list. Lines read: every line but the blank one and the comment.
LIST=$WORK/list.txt
{
  for n in 0 1 2 3 4 5; do printf 'http://127.0.0.1:%s/bytes/%s\n' "$PA" "$n"; done
  printf 'http://127.0.0.2:%s/status/404\n' "$PB"
  printf 'http://127.0.0.2:%s/status/500\n' "$PB"
  printf '127.0.0.2:%s/bytes/7\n' "$PB"
  printf 'HTTP://LOCALHOST:%s/bytes/2\n' "$PA"
  for i in $(seq 0 11); do
    printf 'http://h%s.localhost:%s/status/20%s\n' "$i" "$([ $((i % 2)) = 0 ] && echo "$PA" || echo "$PB")" "$((i % 4))"
  done
  printf 'http://127.0.0.3:%s/\n' "$DEAD"
  printf 'https://127.0.0.3:%s/\n' "$DEAD"
  printf '%s\n' 'not a url' 'ftp://127.0.0.1/x' 'http://' 'https://*.localhost/'
  printf 'http://127.0.0.1:%s/\xff\n' "$PA"
  printf '\n# a comment\n'
  # Duplicates.
  printf 'http://127.0.0.1:%s/bytes/1\n' "$PA"
  printf 'http://h3.localhost:%s/status/203\n' "$PB"
  printf '%s\n' 'not a url'
} >"$LIST"
lines_read() { LC_ALL=C grep -acv -e '^$' -e '^#' "$1"; }

# outcomes FILE: the records as sorted (url, type, status, error_kind) lines.
outcomes() {
  jq -c '[.url, .type, .status, .error_kind]' "$1" | LC_ALL=C sort
}

# check_fleet NAME LIST DIR WHOLE: the gathered records of DIR equal the
# unsharded records WHOLE, line count and multiset.
check_fleet() {
  local name=$1 list=$2 dir=$3 whole=$4 n_whole n_fleet
  n_whole=$(wc -l <"$whole")
  n_fleet=$(wc -l <"$dir/records.jsonl")
  log "$name: $n_fleet records gathered from 3 shards, $n_whole unsharded, $(lines_read "$list") lines read"
  if [ "$n_whole" != "$(lines_read "$list")" ]; then
    not_ok "$name: the unsharded run gives one record per line" "$n_whole records for $(lines_read "$list") lines"
  elif [ "$n_fleet" != "$n_whole" ]; then
    not_ok "$name: as many records as unsharded" "$n_fleet vs $n_whole"
  elif ! diff <(outcomes "$whole") <(outcomes "$dir/records.jsonl") >"$WORK/$name.diff"; then
    not_ok "$name: the same records as unsharded" "$(head -n 10 "$WORK/$name.diff")"
  else
    ok "$name: $n_fleet records, the same (url, type, status, error_kind) multiset as unsharded"
  fi
}

# 0. --help and -h print the usage on stdout and exit 0; an unknown option
#    is a usage error, exit status 2.
bad=
for flag in --help -h; do
  rc=0
  "$SCRIPT" "$flag" >"$WORK/help.out" 2>"$WORK/help.err" || rc=$?
  if [ "$rc" != 0 ] || ! grep -q '^Usage:' "$WORK/help.out" || ! grep -q -- '--resume' "$WORK/help.out"; then
    bad+="$flag: exit $rc, stdout $(head -c 200 "$WORK/help.out"), stderr $(head -c 200 "$WORK/help.err"); "
  fi
done
rc=0
"$SCRIPT" --no-such-option >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || bad+="--no-such-option: exit $rc; "
if [ -z "$bad" ]; then
  ok "parallel-shards.sh --help and -h print the usage and exit 0; an unknown option exits 2"
else
  not_ok "parallel-shards.sh --help" "$bad"
fi

# 1. Three shards, one per machine.
rc=0
"$BIN" "${OPTS[@]}" <"$LIST" >"$WORK/whole.jsonl" 2>"$WORK/whole.stderr" || rc=$?
[ "$rc" = 1 ] || die "the unsharded run exited $rc: $(cat "$WORK/whole.stderr")"
rc=0
"$SCRIPT" --ssh "$SSH" -S "$LOGINS" -n 3 -o "$WORK/fleet" --bin "$BIN" "$LIST" -- "${OPTS[@]}" \
  2>"$WORK/fleet.stderr" || rc=$?
if [ "$rc" = 1 ]; then
  ok "parallel-shards.sh exits 1 (some records are failures, every shard finished)"
else
  not_ok "parallel-shards.sh exit status" "$rc, not 1: $(cat "$WORK/fleet.stderr")"
fi
check_fleet sharded "$LIST" "$WORK/fleet" "$WORK/whole.jsonl"

hosts=$(tail -n +2 "$WORK/fleet/joblog" | cut -f2 | sort -u | wc -l)
if [ "$hosts" = 3 ]; then
  ok "the 3 jobs ran on 3 sshlogins"
else
  not_ok "the 3 jobs ran on 3 sshlogins" "$(cut -f2,7,9 "$WORK/fleet/joblog")"
fi

bad=
for k in 1 2 3; do
  summary=$(tail -n 1 "$WORK/fleet/shard-$k-of-3.stderr")
  count=$(jq -r '.total + .other_shard' <<<"$summary")
  records=$(wc -l <"$WORK/fleet/shard-$k-of-3.jsonl")
  total=$(jq -r .total <<<"$summary")
  [ "$count" = "$(lines_read "$LIST")" ] && [ "$total" = "$records" ] || bad+="shard $k: $summary; "
done
if [ -z "$bad" ]; then
  ok "each shard's total + other_shard is the lines read"
else
  not_ok "each shard's total + other_shard is the lines read" "$bad"
fi

# Lines that cannot be fetched are all shard 1's.
invalid=$(jq -r 'select(.error_kind == "invalid_url" or .error_kind == "unsupported_scheme") | .url' \
  "$WORK/fleet/shard-2-of-3.jsonl" "$WORK/fleet/shard-3-of-3.jsonl")
if [ -z "$invalid" ] && [ "$(jq -c 'select(.error_kind == "invalid_url")' "$WORK/fleet/shard-1-of-3.jsonl" | wc -l)" -ge 4 ]; then
  ok "the lines that cannot be fetched are in shard 1"
else
  not_ok "the lines that cannot be fetched are in shard 1" "$invalid"
fi

# The shard a host lands in is the documented one, computed with sha256sum.
shard_of() {
  local h
  h=$(printf %s "$1" | sha256sum | cut -c1-16)
  python3 -c "print(1 + 0x$h % $2)"
}
key=http://h5.localhost:$PB
k=$(shard_of "$key" 3)
if grep -q "\"url\":\"$key/status/201\"" "$WORK/fleet/shard-$k-of-3.jsonl"; then
  ok "$key is in shard $k, as 1 + (first 8 bytes of SHA-256) mod 3"
else
  not_ok "$key is in shard $k" "not in $WORK/fleet/shard-$k-of-3.jsonl"
fi

# A shard that cannot run is reported, with exit status 2.
rc=0
"$SCRIPT" --ssh "$SSH" -S "$LOGINS" -n 3 -o "$WORK/broken" --bin "$WORK/no-such-binary" "$LIST" \
  2>"$WORK/broken.stderr" || rc=$?
if [ "$rc" = 2 ] && grep -q 'shard 1 2 3 of 3 did not finish' "$WORK/broken.stderr"; then
  ok "parallel-shards.sh exits 2 and names the shards that did not finish"
else
  not_ok "parallel-shards.sh when no shard can run" "exit $rc: $(cat "$WORK/broken.stderr")"
fi

# 2. Resume a killed shard.
LIST2=$WORK/list2.txt
HOLD=http://hold.localhost:$PA
{ cat "$LIST"; printf '%s/hold\n' "$HOLD"; } >"$LIST2"
K=$(shard_of "$HOLD" 3)
mkdir -p "$WORK/fleet2"
touch "$WORK/hold"
# Shard K alone, on 127.0.0.2, until a request of it is held.
"$SSH" 127.0.0.2 "echo \$\$ >'$WORK/victim.pid'; exec '$BIN' --shard $K/3 ${OPTS[*]}" \
  <"$LIST2" >"$WORK/fleet2/shard-$K-of-3.jsonl" 2>"$WORK/fleet2/shard-$K-of-3.stderr" &
victim_ssh=$!
pids+=("$victim_ssh")
until_true 30 test -e "$WORK/held" || die "shard $K never reached the held request"
until_true 10 test -s "$WORK/victim.pid" || die "no pid from shard $K"
kill -KILL "$(cat "$WORK/victim.pid")"
wait "$victim_ssh" 2>/dev/null || true
before=$(wc -l <"$WORK/fleet2/shard-$K-of-3.jsonl")
rm -f "$WORK/hold"
log "shard $K killed with $before records written"
rc=0
"$BIN" "${OPTS[@]}" <"$LIST2" >"$WORK/whole2.jsonl" 2>"$WORK/whole2.stderr" || rc=$?
[ "$rc" = 1 ] || die "the second unsharded run exited $rc"
rc=0
"$SCRIPT" --resume --ssh "$SSH" -S "$LOGINS" -n 3 -o "$WORK/fleet2" --bin "$BIN" "$LIST2" -- "${OPTS[@]}" \
  2>"$WORK/fleet2.stderr" || rc=$?
if [ "$rc" = 1 ]; then
  ok "parallel-shards.sh --resume exits 1"
else
  not_ok "parallel-shards.sh --resume exit status" "$rc, not 1: $(cat "$WORK/fleet2.stderr")"
fi
check_fleet resumed "$LIST2" "$WORK/fleet2" "$WORK/whole2.jsonl"
summary=$(tail -n 1 "$WORK/fleet2/shard-$K-of-3.stderr")
sum=$(jq -r '.total + .other_shard + .skipped' <<<"$summary")
skipped=$(jq -r .skipped <<<"$summary")
if [ "$sum" = "$(lines_read "$LIST2")" ] && [ "$skipped" -gt 0 ] && [ "$skipped" -le "$before" ]; then
  ok "the resumed shard skipped $skipped lines; total + other_shard + skipped is the lines read"
else
  not_ok "the resumed shard's summary" "$summary (records before: $before)"
fi

printf '%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
