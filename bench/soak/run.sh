#!/usr/bin/env bash
# Soak: `mlcanary serve` under steady inference load (wrk, paced) with one canary
# rollout a minute for MINUTES minutes, printing the serve process's RSS, open fds
# and threads at the end of every minute; after the first rollouts they should be flat.
# Rollouts take turns (bake 1h, so only this script moves them):
#   1. recs-v4.json (18 MB DART, predicted through XGBoost)  -> cancel
#   2. recs-v2.ubj / recs-v1.json (the other of the two)     -> complete (new production)
#   3. recs-v3.json (12 features: every canary request a 400) -> rollback
# each decided HOLD seconds after the deploy.
# Usage: bench/soak/run.sh [MINUTES]   (default 10)
# Env: RATE (requests/s, default 200), CONNECTIONS (wrk connections, 4), HOLD (20),
#      PERIOD (seconds per rollout, 60), MLCANARY_BIN (build/apps/mlcanary/mlcanary),
#      UNIQUE_VARIANTS (1: name each canary canary-MINUTE; default: canary-a or canary-b,
#      whichever is not production; the gateway keeps every variant name's metrics).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MLCANARY_BIN:-$root/build/apps/mlcanary/mlcanary}"
minutes="${1:-10}"
rate="${RATE:-200}"; connections="${CONNECTIONS:-4}"; hold="${HOLD:-20}"; period="${PERIOD:-60}"
models="$root/examples/models"
# shellcheck source=bench/soak/lib.sh
source "$root/bench/soak/lib.sh"
wrk_pid=""
cleanup() {
  [[ -n "$wrk_pid" ]] && kill "$wrk_pid" 2> /dev/null && wait "$wrk_pid" 2> /dev/null
  soak_stop_serve
  rm -rf "${workdir:-}"
}
trap cleanup EXIT
soak_start_serve "$models/recs-v1.json"
production="$models/recs-v1.json"
production_variant=production
export SOAK_DELAY_MS=$((connections * 1000 / rate))
nice wrk -t1 -c"$connections" -d"$((minutes * period + 30))s" -s "$root/bench/soak/paced_post.lua" \
  "http://127.0.0.1:$inference_port/v1/endpoints/recs/invocations" > "$workdir/wrk.txt" 2>&1 &
wrk_pid=$!
threads() { awk '/^Threads:/ {print $2}' "/proc/$serve_pid/status"; }
echo "serve pid $serve_pid, ~$rate req/s over $connections connections, a rollout every ${period}s for $minutes minutes"
echo "minute 0 rss_mb $(soak_rss_mb) fds $(soak_fds) threads $(threads)"
start=$(date +%s)
for minute in $(seq 1 "$minutes"); do
  case $((minute % 3)) in
    1) canary="$models/recs-v4.json"; action=cancel ;;
    2) if [[ "$production" == "$models/recs-v1.json" ]]; then canary="$models/recs-v2.ubj"
       else canary="$models/recs-v1.json"; fi
       action=complete ;;
    0) canary="$models/recs-v3.json"; action=rollback ;;
  esac
  if [[ "${UNIQUE_VARIANTS:-0}" == 1 ]]; then variant="canary-$minute"
  elif [[ "$production_variant" == canary-a ]]; then variant="canary-b"
  else variant="canary-a"; fi
  outcome="deploy failed"
  if soak_deploy "$canary" "$variant"; then
    sleep "$hold"
    soak_api POST "/v1/deployments/$soak_id/$action"
    state="$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("state", "?"))' \
      <<< "$soak_body" 2> /dev/null || echo "?")"
    outcome="$action -> $soak_status $state"
    if [[ "$action" == complete && "$soak_status" == 200 ]]; then
      production="$canary"
      production_variant="$variant"
    fi
  fi
  # The end of this minute (the model just removed is freed in the background).
  sleep "$((start + minute * period - $(date +%s)))" 2> /dev/null || true
  echo "minute $minute rss_mb $(soak_rss_mb) fds $(soak_fds) threads $(threads)" \
    "rollout $(basename "$canary"): $outcome"
done
kill -INT "$wrk_pid" 2> /dev/null || true
wait "$wrk_pid" 2> /dev/null || true
wrk_pid=""
echo "wrk:"; grep -E "requests in|Requests/sec|Non-2xx|Socket errors" "$workdir/wrk.txt" || cat "$workdir/wrk.txt"
