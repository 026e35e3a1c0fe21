#!/usr/bin/env bash
# Tests the deployable apps: the Go backend (own module, race detector), the
# React frontend (npm ci, Vitest, production build) and the browser test
# (real nginx with nginx/app.conf.tpl + real backend + Debian Chromium).
# Installs what it needs itself, Debian packages only when missing; safe to
# run again. Called by `make test`; runs from any directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKEND="$ROOT/apps/backend"
FRONTEND="$ROOT/apps/frontend"

section() { printf '\n==== %s ====\n' "$*"; }
die() { printf 'test-apps: %s\n' "$*" >&2; exit 1; }

# apt_install_missing BINARY:PACKAGE... installs the packages whose binary is absent.
apt_install_missing() {
  local missing=() present=() pair
  for pair in "$@"; do
    if [ -x "${pair%%:*}" ]; then present+=("${pair#*:}"); else missing+=("${pair#*:}"); fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "Debian packages already present: ${present[*]}"
    return
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install ${missing[*]}"
    sudo=(sudo -n)
  fi
  echo "Installing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

section "tools"
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "go is not installed"
command -v node >/dev/null || die "node is not installed (need Node.js 20.19+ with npm)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node.js $(node --version) is too old: Vite 8 needs 20.19+"
# gcc for the race detector (cgo); nginx and chromium for the browser test.
apt_install_missing /usr/bin/gcc:gcc /usr/sbin/nginx:nginx /usr/bin/chromium:chromium
echo "$(go version); node $(node --version); npm $(npm --version); $(/usr/sbin/nginx -v 2>&1)"
echo "$(/usr/bin/chromium --version 2>/dev/null | grep -i chromium || echo 'chromium: version unknown')"

section "backend: go vet + go test -race ./... (apps/backend, PostgreSQL tests included)"
(
  cd "$BACKEND"
  # The store, API, migration and command tests run against a throwaway
  # PostgreSQL server of their own (internal/pgtest: Debian's binaries,
  # 127.0.0.1, temp dir). PGTEST_REQUIRE=1 turns "PostgreSQL is not
  # installed" from a skip into a failure, so they cannot silently not run.
  pg_server="$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1 || true)"
  apt_install_missing "${pg_server:-/usr/lib/postgresql/missing/bin/postgres}:postgresql"
  go vet ./...
  CGO_ENABLED=1 PGTEST_REQUIRE=1 go test -race -count=1 ./...
)

section "frontend: npm ci (apps/frontend)"
(
  cd "$FRONTEND"
  npm ci --no-audit --no-fund
)

section "frontend: npm test (vitest)"
(
  cd "$FRONTEND"
  # Plain text, so the summary lines ("Test Files", "Tests") read cleanly in CI logs.
  NO_COLOR=1 npm test
)

section "frontend: npm run build"
(
  cd "$FRONTEND"
  npm run build
)

# Last, so the output ends with the test runner's own summary.
section "browser test: nginx + backend + chromium (apps/frontend/e2e; screenshot in build/e2e/)"
(
  cd "$FRONTEND"
  npm run test:e2e
)
