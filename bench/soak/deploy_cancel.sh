#!/usr/bin/env bash
# Deploy/cancel loop against `mlcanary serve`: CYCLES times, POST /v1/deployments
# with a canary model (default: the 18 MB DART example, recs-v4.json) and cancel
# it, printing the serve process's RSS (once settled: the canary's model is freed
# in the background after the cancel answers) and open fds after each cycle.
# Usage: bench/soak/deploy_cancel.sh [CYCLES] [CANARY_MODEL]   (defaults: 200, recs-v4.json)
# Env: MLCANARY_BIN (default build/apps/mlcanary/mlcanary).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MLCANARY_BIN:-$root/build/apps/mlcanary/mlcanary}"
cycles="${1:-200}"
canary="$(realpath "${2:-$root/examples/models/recs-v4.json}")"
# shellcheck source=bench/soak/lib.sh
source "$root/bench/soak/lib.sh"
trap 'soak_stop_serve; rm -rf "${workdir:-}"' EXIT
soak_start_serve "$root/examples/models/recs-v1.json"
echo "serve pid $serve_pid; canary $canary; RSS before the first cycle: $(soak_rss_mb) MB"
first=""
for i in $(seq 1 "$cycles"); do
  soak_deploy "$canary"
  soak_api POST "/v1/deployments/$soak_id/cancel"
  [[ "$soak_status" == 200 ]] || { echo "cancel of $soak_id answered $soak_status" >&2; exit 1; }
  rss="$(soak_settled_rss_mb)"
  first="${first:-$rss}"
  echo "cycle $i rss_mb $rss fds $(soak_fds) growth_since_cycle_1_mb $(awk -v a="$rss" -v b="$first" 'BEGIN {printf "%.1f", a - b}')"
done
