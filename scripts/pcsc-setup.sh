#!/usr/bin/env bash
# The PC/SC part of the set-up: Debian packages (pcscd, vsmartcard's vpcd, OpenSC, pcsc-tools,
# libpcsclite-dev), the native PC/SC binding, a running pcscd, and the quickack loopback route
# that removes vpcd's 44 ms stall per APDU (docs/pcsc.md). Each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=${QUIET:-0}
say() { if [ "$quiet" = 0 ]; then echo "setup: $*"; fi; }
warn() { echo "setup: $*" >&2; }

packages=(pcscd vsmartcard-vpcd opensc pcsc-tools libpcsclite-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
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

# The binding is an optional dependency: it builds only when libpcsclite-dev is there, which may
# have been installed just now.
if ! node -e "require('pcsclite')" >/dev/null 2>&1; then
  say "building the PC/SC binding (pcsclite)"
  npm install-scripts approve pcsclite >/dev/null 2>&1 || true
  npm rebuild pcsclite --loglevel=error >/dev/null
  node -e "require('pcsclite')" || { warn "the pcsclite binding does not load; see the error above"; exit 1; }
fi

# The quickack route: vpcd on 127.0.0.2 gets immediate ACKs, so Nagle no longer holds its frames.
if ! ip route show table local 2>/dev/null | grep -q '^local 127.0.0.2 .*quickack 1'; then
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
    [ -S /run/pcscd/pcscd.comm ] && ss -ltn 2>/dev/null | grep -q ':35963 ' && break
    sleep 0.1
  done
  if ! [ -S /run/pcscd/pcscd.comm ]; then warn "pcscd did not start; see out/pcscd/pcscd.log"; exit 1; fi
fi
