#!/usr/bin/env bash
# The PC/SC part of the set-up: Debian packages (pcscd, vsmartcard's vpcd, OpenSC, pcsc-tools,
# libpcsclite-dev; socat for the NFC bridge's pty pair), the native PC/SC binding, a running pcscd,
# and the quickack loopback route that removes vpcd's 44 ms stall per APDU (docs/pcsc.md). Each step
# is skipped when done.
# Usage: pcsc-setup.sh [packages|services]  (default: both). setup.sh installs the packages before
# `npm ci`, which builds the PC/SC binding against libpcsclite-dev, and the services after it.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=${QUIET:-0}
phase=${1:-all}
case "$phase" in all|packages|services) ;; *) echo "usage: $0 [packages|services]" >&2; exit 2 ;; esac
say() { if [ "$quiet" = 0 ]; then echo "setup: $*"; fi; }
warn() { echo "setup: $*" >&2; }

if [ "$phase" != services ]; then
# libxml2-utils: xmllint checks the JUnit reports against their schema in the tests.
# socat: the pseudo-terminal pair between the NFC bridge and its controller simulator (tests, bench).
# pkg-config: the bench builds a small C client on libpcsclite (harness/bench/native/pcsc-loop.c).
packages=(pcscd vsmartcard-vpcd opensc pcsc-tools libpcsclite-dev libxml2-utils socat pkg-config)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = 'install ok installed' ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    warn "missing Debian packages: ${missing[*]}"
    warn "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

fi
[ "$phase" = packages ] && exit 0

# The binding is an optional dependency: it builds only when libpcsclite-dev is there, which may
# have been installed just now. When an earlier `npm ci` ran without libpcsclite-dev (npm start
# first, say), npm dropped the package and its own dependencies from node_modules altogether, so a
# rebuild has nothing to build: install it again, at the lock file's version, without touching the
# lock file or anything else.
if ! node -e "require('pcsclite')" >/dev/null 2>&1; then
  npm install-scripts approve pcsclite >/dev/null 2>&1 || true
  if [ -f node_modules/pcsclite/package.json ]; then
    say "building the PC/SC binding (pcsclite)"
    npm rebuild pcsclite --loglevel=error >/dev/null
  else
    version=$(node -p "require('./package-lock.json').packages['node_modules/pcsclite'].version")
    say "installing the PC/SC binding (pcsclite@$version), left out by an install without libpcsclite-dev"
    npm install --no-save --no-audit --no-fund --loglevel=error "pcsclite@$version" >/dev/null
  fi
  node -e "require('pcsclite')" || { warn "the pcsclite binding does not load; see the error above"; exit 1; }
fi

# The quickack route: vpcd on 127.0.0.2 gets immediate ACKs, so Nagle no longer holds its frames.
# (Output captured first: with pipefail, grep -q closing the pipe early would fail the test.)
routes=$(ip route show table local 2>/dev/null || true)
if ! grep -q '^local 127.0.0.2 .*quickack 1' <<<"$routes"; then
  if [ "$(id -u)" = 0 ]; then
    say "adding the quickack loopback route for 127.0.0.2"
    ip route add local 127.0.0.2 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1
  else
    warn "no quickack route: every APDU through vpcd will take ~44 ms. As root, run:"
    warn "  ip route add local 127.0.0.2 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1"
  fi
fi

if ! pgrep -x pcscd >/dev/null; then
  mkdir -p out/pcscd
  say "starting pcscd (log in out/pcscd/pcscd.log)"
  # Never --auto-exit outside systemd socket activation: nothing would start it again.
  setsid pcscd -f >out/pcscd/pcscd.log 2>&1 < /dev/null &
  echo $! > out/pcscd/pcscd.pid
  for _ in $(seq 1 50); do
    listening=$(ss -ltn 2>/dev/null || true)
    [ -S /run/pcscd/pcscd.comm ] && grep -q ':35963 ' <<<"$listening" && break
    sleep 0.1
  done
  if ! [ -S /run/pcscd/pcscd.comm ]; then warn "pcscd did not start; see out/pcscd/pcscd.log"; exit 1; fi
fi
