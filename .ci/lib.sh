# shellcheck shell=bash
# Shell helpers shared by .ci/run, tests/interop/run.sh and bench/run.sh. Source it
# after defining `die MESSAGE` (print and exit).

# Puts cargo on PATH when rustup installed it without a login shell.
load_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "${CARGO_HOME:-$HOME/.cargo}/env" ]; then
    # shellcheck disable=SC1091
    . "${CARGO_HOME:-$HOME/.cargo}/env"
  fi
  command -v cargo >/dev/null 2>&1 && return
  local manifest version
  manifest="$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml"
  version=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$manifest")
  die "cargo not found; install Rust ${version:-stable} or newer with rustup"
}

# apt_install PACKAGE...: installs what is missing with apt-get (as root), and
# never upgrades the machine's packages (--no-upgrade). The package lists are
# updated once per run. The packages' init scripts are kept from starting
# services (a system nginx on port 80, tinyproxy, danted) by a policy-rc.d
# that answers 101 ("action not allowed"), unless a policy is already set.
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "need $* but there is no apt-get to install it"
  [ "$(id -u)" = 0 ] || die "need $* installed (run as root to install with apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  local policy_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_made=1
  fi
  local rc=0 log
  log=$(mktemp "${TMPDIR:-/tmp}/apt.XXXXXX")
  apt-get install -y -qq --no-install-recommends --no-upgrade "$@" >"$log" 2>&1 || rc=$?
  if [ "$policy_made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ "$rc" != 0 ]; then
    local tail_
    tail_=$(tail -n 20 "$log")
    rm -f "$log"
    die "apt-get install $* failed: $tail_"
  fi
  rm -f "$log"
}

# busy_ticks: CPU ticks the whole machine has used so far (user, nice, system,
# irq, softirq, steal), from /proc/stat.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# wait_quiet: waits until processes other than ours use under 20 % of a core,
# so that a benchmark round starts on a quiet machine: at most QUIET_WAIT
# seconds per call (default 60) and QUIET_BUDGET seconds in all (default 240).
# Needs `log MESSAGE`.
QUIET_WAITED=0
wait_quiet() {
  local waited=0 b0 busy clk_tck
  clk_tck=$(getconf CLK_TCK)
  while :; do
    b0=$(busy_ticks)
    sleep 0.5
    busy=$((($(busy_ticks) - b0) * 200 / clk_tck))
    [ "$busy" -le 20 ] && break
    if [ "$waited" -ge "${QUIET_WAIT:-60}" ] || [ "$QUIET_WAITED" -ge "${QUIET_BUDGET:-240}" ]; then
      log "other processes still use ${busy} % of a core; going on"
      break
    fi
    [ "$waited" = 0 ] && log "waiting for other processes to quiet down (${busy} % of a core busy)"
    sleep 1.5
    waited=$((waited + 2)) QUIET_WAITED=$((QUIET_WAITED + 2))
  done
  [ "$waited" = 0 ] || log "waited ${waited}s for a quiet machine"
}

# one_host_flags BINARY: the flags that let BINARY run -c requests at once to
# one host: `--max-per-host 0` (no per-host cap; the default is 10), or
# nothing for a build from before that default, which refuses 0 and has no
# cap anyway. Benchmarks of one loopback server pass these to fetcher-stream
# only, never to its peers.
one_host_flags() {
  if "$1" -q --max-per-host 0 </dev/null >/dev/null 2>&1; then
    printf '%s\n' --max-per-host 0
  fi
}
