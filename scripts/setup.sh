#!/usr/bin/env bash
# Sets up everything the project needs on a Debian machine with Node 20+:
# node modules (from the lock file), the compiled CLI, and with --pcsc the PC/SC stack.
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

quiet=0
pcsc=0
browser=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --pcsc) pcsc=1 ;;
    --browser) browser=1 ;;
    -h|--help)
      echo "usage: bash scripts/setup.sh [--quiet] [--pcsc]"
      echo "Installs node modules from package-lock.json and builds dist/."
      echo "--pcsc also installs and starts the PC/SC stack (pcscd, vpcd, OpenSC) the served card needs,"
      echo "       and socat, which the NFC bridge's tests and benchmark use for a pseudo-terminal pair."
      echo "--browser also installs Debian's chromium for the browser scenarios when no Chromium is there."
      exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
say() { if [ "$quiet" = 0 ]; then echo "setup: $*"; fi; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found $(node --version 2>/dev/null || echo none))." >&2
  echo "setup: on Debian: install nodejs from NodeSource or nvm, then run this again." >&2
  exit 1
fi

# With --pcsc the Debian packages come first: npm ci builds the PC/SC binding against libpcsclite-dev.
if [ "$pcsc" = 1 ]; then
  QUIET=$quiet bash scripts/pcsc-setup.sh packages
fi

# The browser scenarios need Chromium, and a Japanese font so that screenshots in reports are legible.
if [ "$browser" = 1 ]; then
  wanted=()
  if [ -z "${JPKI_HIL_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then wanted+=(chromium); fi
  status=$(dpkg-query -W -f='${Status}' fonts-ipafont-gothic 2>/dev/null || true)
  if [ "$status" != 'install ok installed' ] && command -v dpkg-query >/dev/null; then wanted+=(fonts-ipafont-gothic); fi
  # The artifact tests unpack the Playwright trace with Info-ZIP's unzip to look for secrets in it.
  if ! command -v unzip >/dev/null; then wanted+=(unzip); fi
  if [ "${#wanted[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing ${wanted[*]} (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq "${wanted[@]}" >/dev/null
    else
      echo "setup: install ${wanted[*]} with 'sudo apt-get install -y ${wanted[*]}' (or set JPKI_HIL_CHROMIUM to a Chromium)" >&2
      exit 1
    fi
  fi
fi

# Reinstall when the lock file changed since the last install.
stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi

if [ "$pcsc" = 1 ]; then
  QUIET=$quiet bash scripts/pcsc-setup.sh services
fi

say "building (tsc)"
npx --no-install tsc -p tsconfig.build.json
npx --no-install tsc -p tsconfig.browser.json
