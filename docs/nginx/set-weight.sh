#!/usr/bin/env bash
# rollgate `command` traffic provider for open-source nginx (no runtime API): writes the
# upstream that holds stable and canary with the new weights, checks the whole configuration,
# reloads, and waits until nginx runs it. Usage: set-weight.sh WEIGHT (the canary's share, 0-100).
#
# Environment (set it in the workflow's env:):
#   NGINX_UPSTREAM_FILE  the file holding only this upstream block, included inside http { }
#   NGINX_UPSTREAM       the upstream's name (default: the file's name without .conf)
#   NGINX_STABLE         stable's address, e.g. 10.0.0.11:8080
#   NGINX_CANARY         the canary's address, e.g. 10.0.0.12:8080
#   NGINX_PID_FILE       the master's pid file (default /run/nginx.pid)
#   NGINX_PREFIX, NGINX_CONF  passed to nginx as -p and -c when set (default: nginx's own)
set -euo pipefail

weight=${1:-}
if [[ ! $weight =~ ^[0-9]+$ ]] || ((weight > 100)); then
  echo "set-weight.sh: expected the canary's share from 0 to 100, got '${weight}'" >&2
  exit 2
fi
file=${NGINX_UPSTREAM_FILE:?set NGINX_UPSTREAM_FILE to the file holding the upstream block}
name=${NGINX_UPSTREAM:-$(basename "$file" .conf)}
stable=${NGINX_STABLE:?set NGINX_STABLE to the stable address}
canary=${NGINX_CANARY:?set NGINX_CANARY to the canary address}
pid_file=${NGINX_PID_FILE:-/run/nginx.pid}
args=()
[[ -n ${NGINX_PREFIX:-} ]] && args+=(-p "$NGINX_PREFIX")
[[ -n ${NGINX_CONF:-} ]] && args+=(-c "$NGINX_CONF")

# nginx has no weight 0: a server with no share is marked down instead.
server() { if (($2 == 0)); then echo "  server $1 down;"; else echo "  server $1 weight=$2;"; fi; }
next="$file.next"
{
  echo "# written by set-weight.sh: canary ${weight}%"
  echo "upstream $name {"
  server "$stable" $((100 - weight))
  server "$canary" "$weight"
  echo "}"
} >"$next"

cp "$file" "$file.previous"
mv "$next" "$file"
if ! nginx "${args[@]}" -t -q; then
  mv "$file.previous" "$file"
  echo "set-weight.sh: nginx rejected the new upstream; the previous one is back in place" >&2
  exit 1
fi

# A reload starts new workers with the new configuration; the old ones stop accepting and finish
# their requests ("worker process is shutting down"). The change has taken effect once a new
# worker runs and no old one still accepts connections.
master=$(cat "$pid_file")
before=$(pgrep -P "$master" | tr '\n' ' ')
kill -HUP "$master"
for _ in $(seq 1 100); do
  fresh=0 accepting=0
  for pid in $(pgrep -P "$master"); do
    if [[ " $before " != *" $pid "* ]]; then
      fresh=1
    elif ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'shutting down'; then
      [[ -e /proc/$pid ]] && accepting=1
    fi
  done
  if ((fresh && !accepting)); then
    echo "nginx runs upstream $name with canary ${weight}%"
    exit 0
  fi
  sleep 0.1
done
echo "set-weight.sh: nginx (pid $master) did not switch its workers to the new configuration within 10 s; see its error log" >&2
exit 1
