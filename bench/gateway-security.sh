#!/usr/bin/env bash
# Throughput of one gateway: an operation with client id + secret + a plan
# rate limit, against an operation of the same API with no security.
# The access log is off, as in the figures measured before it existed.
# Usage: bench/gateway-security.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-32}
tmp=$(mktemp -d); trap 'kill $gw 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/portico" ./cmd/portico
go build -o "$tmp/loadgen" ./bench/loadgen
"$tmp/portico" gateway --bundle bench/bundle --listen 127.0.0.1:18181 --admin-listen "" --log-level warn --access-log=false &
gw=$!
for _ in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:18181/bench/sandbox/echo/open && break; sleep 0.1; done
base=http://127.0.0.1:18181/bench/sandbox/echo
echo "open (no security):"
"$tmp/loadgen" -url "$base/open" -c "$conns" -d "${secs}s"
echo "secured (client id + secret + plan limit):"
"$tmp/loadgen" -url "$base/secured" -c "$conns" -d "${secs}s" -H "X-IBM-Client-Id: bench-client" -H "X-IBM-Client-Secret: bench-secret"
