#!/usr/bin/env bash
# What the shadow phase costs production (issue 14 item 5), side by side in one run,
# loopback only: two gateways with the same models -- production recs-v1.json at
# weight 1, canary recs-v2.ubj at weight 0, in-process -- the second with a shadow
# copy of every request to the canary (`--shadow canary,SAMPLE`, the canary running
# on the shadow queue's thread). Production answers every user in both.
#   1. capacity: wrk closed loop (CONNECTIONS) against the shadow-off gateway;
#   2. the pacing delay (post.lua with WRK_DELAY_MS) for LOAD x capacity with PACED_CONNECTIONS,
#      calibrated by one short run;
#   3. ROUNDS rounds of shadow off, shadow on and a second shadow-off gateway (A/A: the
#      noise a difference must stand out of), paced, DURATION each, in an order that
#      rotates per round; req/s, p50/p90/p99 of each and the per-round p99 ratios on / off
#      and off2 / off, then the medians.
# The gateways print their totals (shadow copies dropped included) at the end.
# Usage: bench/gateway/run_shadow.sh [BUILD_DIR]
# Env: WORKERS (gateway I/O threads, 2), CONNECTIONS (32), PACED_CONNECTIONS (128),
#      DURATION (10s), WRK_THREADS (2), BASE_PORT (19100), ROUNDS (3), LOAD (0.7),
#      SAMPLE (1.0), SHADOW_NICE (10: the shadow threads' added niceness; 0: none),
#      SHADOW_IDLE (on: the shadow threads SCHED_IDLE; off: niceness only),
#      SHADOW_LINGER (20: ms a shadow thread polls before it sleeps; 0: every copy wakes it)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
workers="${WORKERS:-2}"; connections="${CONNECTIONS:-32}"; paced="${PACED_CONNECTIONS:-128}"
duration="${DURATION:-10s}"; wrk_threads="${WRK_THREADS:-2}"; base="${BASE_PORT:-19100}"
rounds="${ROUNDS:-3}"; load="${LOAD:-0.7}"; sample="${SAMPLE:-1.0}"
shadow_nice="${SHADOW_NICE:-10}"; shadow_idle="${SHADOW_IDLE:-on}"
shadow_linger="${SHADOW_LINGER:-20}"
off_port=$((base + 1)); on_port=$((base + 2)); off2_port=$((base + 3))
models="$root/examples/models"
dir="$(mktemp -d /tmp/mlcanary-shadow-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for f in "$dir"/*.log; do [[ -f $f ]] && { echo "== $(basename "$f")"; grep -v listening "$f" || true; }; done
  rm -rf "$dir"
}
trap cleanup EXIT

ninja -C "$build" gateway_bench_server >/dev/null
server() {  # port, log name, extra flags...
  local port=$1 log=$2
  shift 2
  "$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$port" --threads "$workers" \
    --variant "production=1.0,xgboost,$models/recs-v1.json" \
    --variant "canary=0,xgboost,$models/recs-v2.ubj" "$@" > "$dir/$log.log" 2>&1 &
  pids+=($!)
}
server "$off_port" shadow-off
server "$on_port" shadow-on --shadow "canary,$sample" --shadow-nice "$shadow_nice" \
  --shadow-idle "$shadow_idle" --shadow-linger "$shadow_linger"
server "$off2_port" shadow-off2
sleep 1
url() { echo "http://127.0.0.1:$1/v1/endpoints/recs/invocations"; }

# wrk's figures as numbers: req/s and the p50/p90/p99 in ms.
figures() {
  awk '/Requests\/sec/{rps = $2}
       $1 ~ /^(50|90|99)%$/ { v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0;
                              else if (v ~ /s$/) v = v * 1000; p[$1] = v }
       /Non-2xx|Socket errors/ { err = err " " $0 }
       END { printf "%.0f %.3f %.3f %.3f%s\n", rps, p["50%"], p["90%"], p["99%"], err }'
}
paced_run() {  # port, delay ms, duration
  WRK_DELAY_MS=$2 wrk -t"$wrk_threads" -c"$paced" -d"$3" --latency \
    -s "$root/bench/gateway/post.lua" "$(url "$1")" | figures
}

echo "#### load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
read -r capacity _ _ cap_p99 _ < <(wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency \
  -s "$root/bench/gateway/post.lua" "$(url "$off_port")" | figures)
target=$(awk -v c="$capacity" -v l="$load" 'BEGIN { printf "%.0f", c * l }')
echo "capacity (shadow off, closed loop, $connections connections): $capacity req/s (p99 $cap_p99 ms)"
# rate ~ connections / (delay + latency): one calibration run at the naive delay.
delay=$(awk -v n="$paced" -v r="$target" 'BEGIN { d = int(n * 1000 / r); print (d < 1 ? 1 : d) }')
read -r got _ _ _ _ < <(paced_run "$off_port" "$delay" 3s)
delay=$(awk -v n="$paced" -v r="$target" -v g="$got" -v d="$delay" \
  'BEGIN { s = n * 1000 / g - d; d2 = n * 1000 / r - s; d2 = int(d2 + 0.5); print (d2 < 1 ? 1 : d2) }')
echo "target $target req/s ($load x capacity): $paced connections, ${delay} ms between requests"
ratios=()
for round in $(seq "$rounds"); do
  echo "#### round $round of $rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  measure() {  # off|on|off2
    local port=$off_port
    [[ $1 == on ]] && port=$on_port
    [[ $1 == off2 ]] && port=$off2_port
    read -r rps p50 p90 p99 err < <(paced_run "$port" "$delay" "$duration")
    printf '  shadow %-4s: %s req/s (%s %% of capacity), p50 %s ms, p90 %s ms, p99 %s ms%s\n' "$1" \
      "$rps" "$(awk -v a="$rps" -v c="$capacity" 'BEGIN { printf "%.0f", 100 * a / c }')" \
      "$p50" "$p90" "$p99" "${err:-}"
    eval "${1}_p99=$p99"
  }
  # Rotate the order, so that a drift of the shared box's load favours none.
  case $((round % 3)) in
    1) measure off; measure on; measure off2 ;;
    2) measure on; measure off2; measure off ;;
    0) measure off2; measure off; measure on ;;
  esac
  ratio=$(awk -v a="$on_p99" -v b="$off_p99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  aa=$(awk -v a="$off2_p99" -v b="$off_p99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  ratios+=("$ratio $aa $on_p99 $off_p99 $off2_p99")
  echo "  p99 shadow on / off: ${ratio}x; off2 / off (A/A): ${aa}x"
done
echo "#### p99 per round: on/off, off2/off (A/A), and the medians (p99 on, off, off2 in ms)"
printf '%s\n' "${ratios[@]}" | awk '{ a[NR] = $1; q[NR] = $2; b[NR] = $3; c[NR] = $4; d[NR] = $5
    printf "  round %d: on/off %sx, A/A %sx (on %s, off %s, off2 %s ms)\n", NR, $1, $2, $3, $4, $5 }
  function median(v, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  END { printf "  medians: on/off %.2fx, A/A %.2fx; p99 on %.3f ms, off %.3f ms, off2 %.3f ms\n",
               median(a, NR), median(q, NR), median(b, NR), median(c, NR), median(d, NR) }'
# Is the shadow's cost measurable? A one-sided rank test (Mann-Whitney U, exact: every
# split of the rounds' values counted; beyond 8 rounds, 20000 random splits) of the
# per-round on/off ratios against the A/A ratios, and of p99 on against p99 off: p < 0.05
# says the shadow measurably raised p99.
printf '%s\n' "${ratios[@]}" | python3 -c '
import itertools, random, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
def u(x, y): return sum(1 if a > b else 0.5 if a == b else 0 for a in x for b in y)
def p_greater(x, y):
    both, n, seen = x + y, len(x), u(x, y)
    if n <= 8:
        splits = list(itertools.combinations(range(len(both)), n))
    else:
        rng = random.Random(1)
        splits = [rng.sample(range(len(both)), n) for _ in range(20000)]
    hits = sum(u([both[i] for i in s], [both[i] for i in range(len(both)) if i not in s]) >= seen
               for s in splits)
    return hits / len(splits)
on_off, aa = [r[0] for r in rows], [r[1] for r in rows]
on, off = [r[2] for r in rows], [r[3] for r in rows]
print("  rank test, one-sided: on/off ratios above the A/A ratios p = %.3f; p99 on above off p = %.3f"
      % (p_greater(on_off, aa), p_greater(on, off)))
print("  (p < 0.05: the shadow measurably raised production p99 on this box)")
'
