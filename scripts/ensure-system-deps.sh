#!/usr/bin/env bash
# Installs the real servers the tests and the demo run (from Debian's packages) when they are
# missing. Safe to run again: it installs only what is absent. Needs root (or sudo) on Debian.
set -euo pipefail

# command-or-path:debian-package
needs=(
  "prometheus:prometheus"
  "promtool:prometheus"
  "haproxy:haproxy"
  "/usr/lib/postgresql/15/bin/initdb:postgresql-15"
  "docker-registry:docker-registry"
  "buildah:buildah"
  "skopeo:skopeo"
  "git:git"
  "/usr/sbin/nginx:nginx"
)

missing=()
for need in "${needs[@]}"; do
  probe=${need%%:*}
  pkg=${need##*:}
  if [[ $probe == /* ]]; then [[ -x $probe ]] && continue; else command -v "$probe" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "rollgate: installing system packages the tests need: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "rollgate: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "rollgate: need root to install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Installing a server package must not start it as a system service on shared machines.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "rollgate: installed ${missing[*]}" >&2
