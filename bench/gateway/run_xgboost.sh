#!/usr/bin/env bash
# In-process XGBoost mode: the gateway serving the two example models
# (100 trees each) 90/10, under wrk; prints requests/s, latency percentiles and
# the gateway's resident memory. Loopback only, bounded in time.
# Usage: bench/gateway/run_xgboost.sh [BUILD_DIR]
# Env: THREADS (gateway I/O threads, default 2), CONNECTIONS (32), DURATION (10s),
#      WRK_THREADS (2), PORT (19010), GATEWAY_CPUS / WRK_CPUS (taskset CPU lists,
#      e.g. 0 and 1: keeps the load generator off the gateway's core; unset = no pinning)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
threads="${THREADS:-2}"; connections="${CONNECTIONS:-32}"; duration="${DURATION:-10s}"
wrk_threads="${WRK_THREADS:-2}"; port="${PORT:-19010}"
pin() { if [[ -n "${1:-}" ]]; then echo taskset -c "$1"; fi; }
ninja -C "$build" gateway_bench_server >/dev/null
log="$(mktemp)"
$(pin "${GATEWAY_CPUS:-}") "$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$port" --threads "$threads" \
  --variant "production=0.9,xgboost,$root/examples/models/recs-v1.json" \
  --variant "canary=0.1,xgboost,$root/examples/models/recs-v2.ubj" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$log"' EXIT
sleep 1
echo "== mlcanary gateway, xgboost in-process ($threads threads, $connections connections, $duration)"
$(pin "${WRK_CPUS:-}") wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency -s "$root/bench/gateway/post.lua" \
  "http://127.0.0.1:$port/v1/endpoints/recs/invocations" \
  | grep -E "Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors"
echo "gateway resident memory after the run: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
