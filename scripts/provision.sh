#!/usr/bin/env bash
# Makes sure the servers the integration tests need can be started locally:
#   - redis-server (installed with apt-get when running as root),
#   - a MongoDB wire-protocol server: mongod if present, else FerretDB built from
#     the Go module proxy into the per-user cache (MongoDB itself is not
#     installable everywhere; FerretDB with its SQLite handler needs no service),
#   - chromium (Debian's package, apt-get when running as root), the browser of the
#     browser tests (test/e2e/browser/): Playwright cannot download its own builds here,
#     so playwright-core drives /usr/bin/chromium (~80 MB download, ~290 MB installed),
#   - with --bench, wrk (apt-get), the load generator of `npm run bench`.
# A part is skipped when its URL (REDIS_URL / MONGODB_URI) is already set, because
# then the tests use that server instead of starting one; likewise TESSERA_CHROMIUM
# (another Chromium build to launch instead of /usr/bin/chromium).
# Idempotent, non-interactive (CI=true, no stdin), quiet when everything is present:
# the only output is one line per binary, on stderr, saying what will be used.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Sourced for $tessera_cache (and Node 24, which the tests need anyway).
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"

ferretdb_version="v1.24.0"
ferretdb_cached="$tessera_cache/bin/ferretdb"
summary=()

die() { echo "tessera: $*" >&2; exit 1; }

# Runs a noisy command with its output in a log that is shown only on failure.
quietly() {
  local log rc=0; log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || tail -n 30 "$log" >&2
  rm -f "$log"
  return "$rc"
}

# Installs Debian package $1 with apt-get (root only), whatever is on PATH.
apt_install() {
  local package="$1"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "install $package (Debian: apt-get install $package)"
  fi
  echo "tessera: installing $package with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh image: update only if needed (so the
  # first attempt's failure is expected, and not shown).
  apt-get install -y --no-install-recommends "$package" </dev/null >/dev/null 2>&1 \
    || { quietly apt-get update </dev/null \
         && quietly apt-get install -y --no-install-recommends "$package" </dev/null; } \
    || die "apt-get install $package failed"
}

# Installs Debian package $1 (providing command $2) unless the command is there already.
ensure_package() {
  local package="$1" command="$2"
  command -v "$command" >/dev/null 2>&1 && return
  apt_install "$package"
  command -v "$command" >/dev/null 2>&1 || die "$command still not on PATH after apt-get install $package"
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then summary+=("redis: REDIS_URL is set, using it"); return; fi
  ensure_package redis-server redis-server
  summary+=("redis: $(command -v redis-server)")
}

runs() { "$1" --version >/dev/null 2>&1; }

# The browser tests launch /usr/bin/chromium (test/support/browser.ts), not whatever `chromium`
# is first on PATH, so that is the file looked for. Without recommends (upower, udev, mesa…)
# the package brings no font (fonts-liberation is only recommended): on an image that has none,
# pages would render as boxes, so DejaVu comes too.
ensure_chromium() {
  if [ -n "${TESSERA_CHROMIUM:-}" ]; then
    runs "$TESSERA_CHROMIUM" || die "TESSERA_CHROMIUM=$TESSERA_CHROMIUM does not run"
    summary+=("browser: TESSERA_CHROMIUM is set, using $TESSERA_CHROMIUM"); return
  fi
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after apt-get install chromium"
  fi
  if [ -z "$(find /usr/share/fonts /usr/local/share/fonts -type f \( -name '*.ttf' -o -name '*.otf' \) 2>/dev/null | head -n 1)" ]; then
    apt_install fonts-dejavu-core
  fi
  summary+=("browser: /usr/bin/chromium")
}

# FerretDB cannot be fetched with `go install …@v1.24.0` (the proxy refuses the
# module's version list) and a plain build panics at start because
# build/version/version.txt is empty in the module zip; building from a vendored
# copy with that file filled in works.
build_ferretdb() {
  command -v go >/dev/null 2>&1 \
    || die "install Go >= 1.22 to build FerretDB, or install mongod, or set MONGODB_URI"
  echo "tessera: building FerretDB ${ferretdb_version#v} once (2–9 min), cached in $ferretdb_cached" >&2
  work=$(mktemp -d)
  # Go's module and build caches (~1.5 GB) live beside the build and go with it: only the binary
  # (~60 MB) is kept. (Not inside the module's directory, which go mod tidy would scan.)
  gocaches=$(mktemp -d)
  export GOPATH="$gocaches/gopath" GOMODCACHE="$gocaches/gopath/pkg/mod" GOCACHE="$gocaches/build" GOFLAGS=-modcacherw
  # A line every 30 s, so that a long build is seen to be going on.
  ( started=$SECONDS; while sleep 30; do echo "tessera: still building FerretDB ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s)" >&2; done ) &
  ticker=$!
  trap 'kill "$ticker" 2>/dev/null || true; rm -rf "$work" "$gocaches"' EXIT
  cat >"$work/go.mod" <<EOF
module ferretbuild

go 1.22

require github.com/FerretDB/FerretDB $ferretdb_version
EOF
  cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
EOF
  mkdir -p "$(dirname "$ferretdb_cached")"
  # Chained with && because set -e does not apply inside a `( … ) || …` subshell.
  # The binary is built next to the target and renamed, so an interrupted build
  # never leaves a half-written file that later runs would mistake for a good one.
  (
    cd "$work" &&
      quietly go mod tidy &&
      GOFLAGS="-mod=mod -modcacherw" quietly go mod vendor &&
      echo "$ferretdb_version" >vendor/github.com/FerretDB/FerretDB/build/version/version.txt &&
      quietly go build -mod=vendor -o "$ferretdb_cached.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
  ) || { rm -f "$ferretdb_cached.tmp"; die "building FerretDB failed (see output above)"; }
  mv -f "$ferretdb_cached.tmp" "$ferretdb_cached"
  kill "$ticker" 2>/dev/null || true
  rm -rf "$work" "$gocaches"
  runs "$ferretdb_cached" || die "built $ferretdb_cached but it does not run"
  echo "tessera: FerretDB built ($(du -h "$ferretdb_cached" | cut -f1)); Go's caches were removed" >&2
}

ensure_mongo() {
  if [ -n "${MONGODB_URI:-}" ]; then summary+=("mongo: MONGODB_URI is set, using it"); return; fi
  if command -v mongod >/dev/null 2>&1; then summary+=("mongo: $(command -v mongod)"); return; fi
  if command -v ferretdb >/dev/null 2>&1 && runs ferretdb; then
    summary+=("mongo: $(command -v ferretdb) (FerretDB)"); return
  fi
  if ! { [ -x "$ferretdb_cached" ] && runs "$ferretdb_cached"; }; then build_ferretdb; fi
  summary+=("mongo: $ferretdb_cached (FerretDB)")
}

ensure_redis
ensure_mongo
ensure_chromium
# `--bench`: also the load generator of `npm run bench`.
if [ "${1:-}" = "--bench" ]; then
  ensure_package wrk wrk
  summary+=("load generator: $(command -v wrk)")
fi
for line in "${summary[@]}"; do echo "tessera: $line" >&2; done
