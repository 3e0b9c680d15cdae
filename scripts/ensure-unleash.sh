#!/usr/bin/env bash
# Installs unleash-server into a folder of its own, on demand, for the kill-switch tests and the
# demo. It is ~190 MB and only a test fixture, so it is never a dependency of the product.
# Prints the folder on stdout. Safe to run concurrently (one installer at a time, under a lock).
set -euo pipefail

version="${UNLEASH_VERSION:-7.5.1}"
dir="${ROLLGATE_UNLEASH_DIR:-${ROLLGATE_CACHE:-$HOME/.cache/rollgate}/unleash-$version}"

mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9

if [ ! -f "$dir/node_modules/unleash-server/package.json" ]; then
  echo "installing unleash-server@$version into $dir (first time only, about a minute)" >&2
  if [ ! -f "$dir/package.json" ]; then
    printf '{ "name": "rollgate-unleash-fixture", "private": true, "type": "module" }\n' >"$dir/package.json"
  fi
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "unleash-server@$version" >&2)
fi

echo "$dir"
