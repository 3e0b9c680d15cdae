#!/usr/bin/env bash
# rollgate `command` traffic provider for open-source nginx: prints the canary's share (0-100)
# from the upstream file set-weight.sh wrote and nginx loaded. Same environment as set-weight.sh.
set -euo pipefail
file=${NGINX_UPSTREAM_FILE:?set NGINX_UPSTREAM_FILE to the file holding the upstream block}
canary=${NGINX_CANARY:?set NGINX_CANARY to the canary address}
stable=${NGINX_STABLE:?set NGINX_STABLE to the stable address}

weight_of() {
  local line
  line=$(grep -E "^\s*server\s+$1(\s|;)" "$file" || true)
  if [[ -z $line ]]; then echo "get-weight.sh: no server $1 in $file" >&2; exit 1; fi
  if [[ $line == *" down"* ]]; then echo 0; return; fi
  if [[ $line =~ weight=([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo 1; fi
}
c=$(weight_of "$canary")
s=$(weight_of "$stable")
if ((c + s == 0)); then echo "get-weight.sh: both servers are down in $file" >&2; exit 1; fi
echo $((100 * c / (c + s)))
