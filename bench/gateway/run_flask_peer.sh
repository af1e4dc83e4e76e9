#!/usr/bin/env bash
# In-process XGBoost mode against its peer, side by side in one run, loopback
# only, bounded in time:
#   1. Flask + xgboost (Python) behind gunicorn (WORKERS sync workers) serving MODEL,
#   2. the mlcanary gateway (WORKERS I/O threads) serving MODEL in-process,
#   3. the same with `--native-trees off` (every prediction through XGBoost).
# Same request body (post.lua: one 8-feature row), wrk at CONNECTIONS connections.
#
# The peer's packages: python3-flask, gunicorn and python3-numpy come from apt
# (installed if missing). Debian's python3-xgboost cannot be installed beside
# libboost1.81-dev (its python3-scipy pulls libboost1.74-dev), so python3-xgboost
# and python3-scipy are unpacked with `apt-get download` + `dpkg -x` into PEER_DIR,
# xgboost/lib/libxgboost.so is pointed at the system's libxgboost.so.0, and the
# peer runs from there with PYTHONPATH. Nothing else is installed.
#
# Usage: bench/gateway/run_flask_peer.sh [BUILD_DIR]
# Env: MODEL (examples/models/recs-v1.json), WORKERS (2), CONNECTIONS (32),
#      DURATION (10s), WRK_THREADS (2), BASE_PORT (19100),
#      PEER_DIR (/tmp/mlcanary-flask-peer, kept between runs),
#      PEER_WORKER_CLASS (sync; gthread keeps connections alive),
#      SERVER_CPUS / WRK_CPUS (taskset CPU lists for all three servers and for wrk,
#      e.g. 0 and 1: keeps the load generator off the servers' core; unset = no pinning)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
model="$(realpath "${MODEL:-$root/examples/models/recs-v1.json}")"
workers="${WORKERS:-2}"; connections="${CONNECTIONS:-32}"; duration="${DURATION:-10s}"
wrk_threads="${WRK_THREADS:-2}"; base="${BASE_PORT:-19100}"
peer_dir="${PEER_DIR:-/tmp/mlcanary-flask-peer}"; worker_class="${PEER_WORKER_CLASS:-sync}"
peer_port=$((base + 1)); gw_port=$((base + 2)); gw_xgb_port=$((base + 3))
py=/usr/bin/python3  # Debian's, whose dist-packages hold flask and numpy
pin() { if [[ -n "${1:-}" ]]; then echo taskset -c "$1"; fi; }
server_pin="$(pin "${SERVER_CPUS:-}")"; wrk_pin="$(pin "${WRK_CPUS:-}")"

# --- the peer's packages -----------------------------------------------------
missing=()
for pkg in python3-flask gunicorn python3-numpy libgfortran5 liblbfgsb0 libblas3 liblapack3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
site="$peer_dir/root/usr/lib/python3/dist-packages"
if [[ ! -d "$site/xgboost" || ! -d "$site/scipy" ]]; then
  mkdir -p "$peer_dir/debs"
  (cd "$peer_dir/debs" && apt-get download python3-xgboost python3-scipy)
  for deb in "$peer_dir"/debs/*.deb; do dpkg -x "$deb" "$peer_dir/root"; done
fi
libxgboost="$(ldconfig -p | awk '/libxgboost\.so\.0 /{print $NF; exit}')"
ln -sf "${libxgboost:-/usr/lib/x86_64-linux-gnu/libxgboost.so.0}" "$site/xgboost/lib/libxgboost.so"

# --- servers -----------------------------------------------------------------
dir="$(mktemp -d /tmp/mlcanary-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

ninja -C "$build" gateway_bench_server >/dev/null

PYTHONPATH="$site:$root/bench/gateway" MODEL_PATH="$model" \
  $server_pin "$py" /usr/bin/gunicorn --workers "$workers" --worker-class "$worker_class" \
  --bind "127.0.0.1:$peer_port" --log-level warning flask_peer:app > "$dir/peer.log" 2>&1 &
pids+=($!)
$server_pin "$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$gw_port" --threads "$workers" \
  --variant "production=1.0,xgboost,$model" > "$dir/gateway.log" 2>&1 &
pids+=($!)
$server_pin "$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$gw_xgb_port" --threads "$workers" \
  --native-trees off --variant "production=1.0,xgboost,$model" > "$dir/gateway-xgb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$peer_port/ping" >/dev/null 2>&1 &&
    curl -sf "http://127.0.0.1:$gw_port/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
body='{"user_id":"u1","features":[0.9,0.1,0.5,0.5,0.5,0.5,0.5,1.5]}'
for port in "$peer_port" "$gw_port"; do
  echo "answer on :$port: $(curl -s -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$port/v1/endpoints/recs/invocations")"
done

run() {  # label, url
  echo "== $1 ($workers workers, $connections connections, $duration)"
  $wrk_pin wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency -s "$root/bench/gateway/post.lua" "$2" \
    | grep -E "Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors"
}
run "Flask + xgboost, gunicorn $worker_class" "http://127.0.0.1:$peer_port/v1/endpoints/recs/invocations"
run "mlcanary gateway, in-process (native trees)" "http://127.0.0.1:$gw_port/v1/endpoints/recs/invocations"
run "mlcanary gateway, in-process, --native-trees off" "http://127.0.0.1:$gw_xgb_port/v1/endpoints/recs/invocations"
