#!/usr/bin/env bash
# Fetch one list of URLs on several machines with GNU parallel, one
# `fetcher-stream --shard K/N` job per shard, and gather the records.
#
# The list is read here and streamed to every job over ssh (parallel --pipe
# --tee), so the machines need no copy of it; each job keeps only its own
# shard's lines (by host: every host is fetched by exactly one machine, so
# per-host caps and rates hold over the fleet). Each job's records come back
# through parallel into DIR/shard-K-of-N.jsonl and its stderr into
# DIR/shard-K-of-N.stderr: fetcher-stream's warnings and errors, its summary
# as the last JSON line when the shard finished, and whatever the remote
# shell or ssh wrote there (a `Killed` line, a connection error).
# DIR/records.jsonl is then the records' concatenation, shard 1 first, and
# DIR/joblog parallel's job log.
#
# With --resume, every shard runs again with `fetcher-stream --resume
# DIR/shard-K-of-N.jsonl`, which skips the lines that already have a final
# record there, and its new records are appended to that file (a cut last
# line, from a killed job, is dropped first), as its stderr is to
# DIR/shard-K-of-N.stderr. The machines read that file,
# so DIR must be at the same path on each of them (a shared filesystem, or
# all jobs on this machine).
#
# Usage:
#   contrib/parallel-shards.sh [-S LOGINS]... [-n N] [-o DIR] [--resume]
#       [--bin PATH] [--ssh CMD] LIST [-- FETCHER-STREAM OPTIONS...]
#
#   -S LOGINS   parallel's --sshlogin (repeatable, comma-separated; `:` is
#               this machine). Default `:`.
#   -n N        number of shards (jobs). Default: the number of LOGINS. All
#               N jobs run at once, spread over the LOGINS.
#   -o DIR      where the records go. Default ./shards.
#   --resume    run every shard again, skipping the lines that already have a
#               final record in DIR, and append to DIR's files.
#   --bin PATH  fetcher-stream as the machines run it. Default fetcher-stream.
#   --ssh CMD   parallel's --ssh (the ssh command). Default ssh.
#   -h, --help  print this usage and exit.
#
# Exit status: 0 every shard ran and every record is a success; 1 every
# shard ran, some records are failures; 2 a shard did not finish (its exit
# status is not 0 or 1: killed, interrupted, ssh failed) or a usage error.
# Run again with --resume to finish what is missing.
set -euo pipefail

# The Usage part of the comment above.
usage_text() {
  sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed '$d; s/^# \{0,1\}//'
}
usage() {
  usage_text >&2
  exit 2
}
die() {
  printf 'parallel-shards: %s\n' "$*" >&2
  exit 2
}

logins=()
shards=
dir=./shards
resume=0
bin=fetcher-stream
ssh_cmd=ssh
while [ $# -gt 0 ]; do
  case $1 in
    -S | --sshlogin) [ $# -ge 2 ] || usage; logins+=("$2"); shift 2 ;;
    -n | --shards) [ $# -ge 2 ] || usage; shards=$2; shift 2 ;;
    -o | --out) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --resume) resume=1; shift ;;
    --bin) [ $# -ge 2 ] || usage; bin=$2; shift 2 ;;
    --ssh) [ $# -ge 2 ] || usage; ssh_cmd=$2; shift 2 ;;
    -h | --help) usage_text; exit 0 ;;
    --) usage ;;
    -*) die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
list=$1
shift
if [ $# -gt 0 ]; then
  [ "$1" = -- ] || die "options for fetcher-stream go after --"
  shift
fi
[ -r "$list" ] || die "cannot read the list '$list'"
command -v parallel >/dev/null 2>&1 || die "GNU parallel is not installed"
[ "${#logins[@]}" -gt 0 ] || logins=(:)
login_list=$(IFS=,; printf '%s' "${logins[*]}")
if [ -z "$shards" ]; then
  IFS=, read -r -a each <<<"$login_list"
  shards=${#each[@]}
fi
case $shards in '' | *[!0-9]* | 0*) die "-n must be a whole number from 1, got '$shards'" ;; esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# One word for the remote shell (sh or bash): single-quoted.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# The job for shard {} (parallel fills it in): fetcher-stream with the
# user's options, and with --resume its own records file.
cmd="$(quote "$bin") --shard {}/$shards"
for arg in "$@"; do cmd+=" $(quote "$arg")"; done
name="shard-{}-of-$shards"
if [ "$resume" = 1 ]; then
  for k in $(seq 1 "$shards"); do
    f=$dir/shard-$k-of-$shards.jsonl
    [ -e "$f" ] || : >"$f"
    # A job killed mid-line leaves a cut last line: drop it.
    if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
      truncate -s $(($(wc -c <"$f") - $(tail -n 1 "$f" | wc -c))) "$f"
    fi
  done
  cmd+=" --resume $(quote "$dir/$name.jsonl")"
fi

# Each job's output lands in a fresh directory first, then is moved (or,
# with --resume, appended) to its shard's files.
run=$(mktemp -d "$dir/.run.XXXXXX")
trap 'rm -rf "$run"' EXIT
parallel --will-cite --pipe --tee \
  --ssh "$ssh_cmd" -S "$login_list" \
  --joblog "$dir/joblog" \
  --results "$run/{}" \
  "$cmd" ::: $(seq 1 "$shards") <"$list" >/dev/null || true
for k in $(seq 1 "$shards"); do
  out=$dir/shard-$k-of-$shards
  if [ "$resume" = 1 ]; then
    cat "$run/$k" >>"$out.jsonl" 2>/dev/null || true
    cat "$run/$k.err" >>"$out.stderr" 2>/dev/null || true
  else
    mv "$run/$k" "$out.jsonl" 2>/dev/null || : >"$out.jsonl"
    mv "$run/$k.err" "$out.stderr" 2>/dev/null || : >"$out.stderr"
  fi
done
for k in $(seq 1 "$shards"); do cat "$dir/shard-$k-of-$shards.jsonl"; done >"$dir/records.jsonl"

# parallel's status counts the jobs that exited non-zero, and
# fetcher-stream exits 1 when some records are failures: the job log says
# which shards finished (exit status 0 or 1). With --tee over ssh, parallel
# also logs jobs with an empty argument that receive no input and run
# nothing; they are not shards.
declare -A finished=()
while IFS=$'\t' read -r _seq _host _start _runtime _send _receive exitval signal command; do
  case $command in *"--shard "*) ;; *) continue ;; esac
  k=${command#*--shard }
  k=${k%%/*}
  case $k in '' | *[!0-9]*) continue ;; esac
  if [ "$signal" = 0 ] && [ "$exitval" -le 1 ]; then finished[$k]=$exitval; fi
done < <(tail -n +2 "$dir/joblog")
worst=0
unfinished=()
for k in $(seq 1 "$shards"); do
  case ${finished[$k]:-none} in
    none) unfinished+=("$k") ;;
    1) worst=1 ;;
  esac
done
if [ "${#unfinished[@]}" -gt 0 ]; then
  printf 'parallel-shards: shard %s of %s did not finish (see %s); run again with --resume\n' \
    "${unfinished[*]}" "$shards" "$dir/joblog" >&2
  exit 2
fi
printf 'parallel-shards: %s records from %s shards in %s\n' \
  "$(wc -l <"$dir/records.jsonl")" "$shards" "$dir/records.jsonl" >&2
exit "$worst"
