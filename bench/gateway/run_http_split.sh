#!/usr/bin/env bash
# HTTP-upstream mode, side by side in one run, loopback only, bounded in time:
#   1. direct-to-upstream (the limit),
#   2. nginx as the router: split_clients 90/10 on $request_id, keepalive pools,
#   3. the mlcanary gateway: production 0.9 / canary 0.1, both http backends,
#      upstream calls on the calling I/O thread's loop (per-thread pools),
#   4. with BASELINE=path/to/an/older/gateway_bench_server: that build too, same
#      flags, for an A/B in one run (build the previous commit in another dir),
#   5. with OWN_LOOP=1: the gateway with `--http-loop own` (calls hop to the
#      backend's own event-loop thread and back: the older design).
# ROUNDS=n repeats 1-5 n times (the box is shared: take medians). Each round ends with
# the ratios the gateway issue asks for (gateway ÷ nginx req/s, gateway p99 ÷ nginx p99,
# gateway ÷ direct req/s), and the last lines give every round's ratios and their medians.
# Two nginx upstreams answer POST /invocations with a fixed JSON body.
# Usage: bench/gateway/run_http_split.sh [BUILD_DIR]
# Env: WORKERS (router workers/threads, default 2), CONNECTIONS (32),
#      DURATION (10s), WRK_THREADS (2), BASE_PORT (19000), ROUNDS (1),
#      BASELINE (unset), OWN_LOOP (0)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
workers="${WORKERS:-2}"; connections="${CONNECTIONS:-32}"; duration="${DURATION:-10s}"
wrk_threads="${WRK_THREADS:-2}"; base="${BASE_PORT:-19000}"; rounds="${ROUNDS:-1}"
baseline="${BASELINE:-}"; own_loop="${OWN_LOOP:-0}"
up_a=$((base + 1)); up_b=$((base + 2)); nginx_port=$((base + 3)); gw_port=$((base + 4))
gw_own_port=$((base + 5)); gw_base_port=$((base + 6))
dir="$(mktemp -d /tmp/mlcanary-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

ninja -C "$build" gateway_bench_server >/dev/null

nginx_conf() {  # name, body of the http block
  mkdir -p "$dir/$1/logs"
  cat > "$dir/$1/nginx.conf" <<CONF
worker_processes $2;
error_log $dir/$1/logs/error.log warn;
pid $dir/$1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/$1/body; proxy_temp_path $dir/$1/proxy;
  fastcgi_temp_path $dir/$1/fcgi; uwsgi_temp_path $dir/$1/uwsgi; scgi_temp_path $dir/$1/scgi;
  keepalive_requests 1000000;
$3
}
CONF
  nginx -p "$dir/$1" -c "$dir/$1/nginx.conf" -g 'daemon off;' &
  pids+=($!)
}

upstream_server() {  # name, port, prediction
  nginx_conf "$1" 1 "
  server {
    listen 127.0.0.1:$2 reuseport;
    location = /ping { return 200 ''; }
    location = /invocations { default_type application/json; return 200 '{\"predictions\":[$3]}'; }
  }"
}
upstream_server up_a "$up_a" 0.25
up_a_pid=$!
upstream_server up_b "$up_b" 0.75
nginx_conf router "$workers" "
  upstream production { server 127.0.0.1:$up_a; keepalive 256; }
  upstream canary { server 127.0.0.1:$up_b; keepalive 256; }
  split_clients \"\${request_id}\" \$variant { 90% production; * canary; }
  server {
    listen 127.0.0.1:$nginx_port;
    location ~ ^/v1/endpoints/[^/]+/invocations\$ {
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass http://\$variant/invocations;
    }
  }"
router_pid=$!
"$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$gw_port" --threads "$workers" \
  --variant "production=0.9,http,http://127.0.0.1:$up_a,1000" \
  --variant "canary=0.1,http,http://127.0.0.1:$up_b,1000" > "$dir/gateway.log" 2>&1 &
gw_pid=$!
pids+=($!)
if [[ "$own_loop" == 1 ]]; then
  "$build/bench/gateway/gateway_bench_server" --listen "127.0.0.1:$gw_own_port" --threads "$workers" \
    --http-loop own --variant "production=0.9,http,http://127.0.0.1:$up_a,1000" \
    --variant "canary=0.1,http,http://127.0.0.1:$up_b,1000" > "$dir/gateway-own.log" 2>&1 &
  gw_own_pid=$!
  pids+=($!)
fi
if [[ -n "$baseline" ]]; then
  "$baseline" --listen "127.0.0.1:$gw_base_port" --threads "$workers" \
    --variant "production=0.9,http,http://127.0.0.1:$up_a,1000" \
    --variant "canary=0.1,http,http://127.0.0.1:$up_b,1000" > "$dir/gateway-base.log" 2>&1 &
  gw_base_pid=$!
  pids+=($!)
fi
sleep 1

# CPU time (clock ticks: user, system) of a process and its children: what a
# router costs per request, which on a shared box says more than requests/s.
cpu_ticks() {
  local user=0 sys=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    read -r u s < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo 0 0)
    user=$((user + u)); sys=$((sys + s))
  done
  echo "$user $sys"
}
run() {  # label, url, pid of the server under test
  echo "== $1 ($workers workers, $connections connections, $duration)"
  local out requests user_before sys_before user_after sys_after
  read -r user_before sys_before < <(cpu_ticks "$3")
  out=$(wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency \
    -s "$root/bench/gateway/post.lua" "$2")
  read -r user_after sys_after < <(cpu_ticks "$3")
  grep -E "Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors" <<<"$out"
  requests=$(awk '/requests in/{print $1}' <<<"$out")
  last_rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  last_p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0; \
    else if (v ~ /s$/) v = v * 1000; print v}' <<<"$out")
  awk -v u=$((user_after - user_before)) -v s=$((sys_after - sys_before)) \
    -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { if (n > 0) printf \
    "  server CPU: %.1f us per request (user %.1f, system %.1f)\n", \
    (u + s) / hz * 1e6 / n, u / hz * 1e6 / n, s / hz * 1e6 / n }'
}
ratios=()
for round in $(seq "$rounds"); do
  echo "#### round $round of $rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  run "direct to upstream" "http://127.0.0.1:$up_a/invocations" "$up_a_pid"
  direct_rps=$last_rps
  run "nginx split_clients 90/10" "http://127.0.0.1:$nginx_port/v1/endpoints/recs/invocations" \
    "$router_pid"
  nginx_rps=$last_rps; nginx_p99=$last_p99
  run "mlcanary gateway 90/10" "http://127.0.0.1:$gw_port/v1/endpoints/recs/invocations" "$gw_pid"
  ratio=$(awk -v g="$last_rps" -v n="$nginx_rps" -v gp="$last_p99" -v np="$nginx_p99" \
    -v d="$direct_rps" 'BEGIN { printf "%.2f %.2f %.2f", g / n, gp / np, g / d }')
  ratios+=("$ratio")
  read -r r_nginx r_p99 r_direct <<<"$ratio"
  echo "  ratios: gateway/nginx req/s ${r_nginx}x (goal >= 1.5), gateway/nginx p99" \
    "${r_p99}x (goal <= 1), gateway/direct req/s ${r_direct}x (goal >= 0.8)"
  if [[ -n "$baseline" ]]; then
    run "mlcanary gateway 90/10, BASELINE build" \
      "http://127.0.0.1:$gw_base_port/v1/endpoints/recs/invocations" "$gw_base_pid"
  fi
  if [[ "$own_loop" == 1 ]]; then
    run "mlcanary gateway 90/10, --http-loop own" \
      "http://127.0.0.1:$gw_own_port/v1/endpoints/recs/invocations" "$gw_own_pid"
  fi
done
echo "#### ratios per round: gateway/nginx req/s, gateway/nginx p99, gateway/direct req/s"
printf '%s\n' "${ratios[@]}" | awk '{ a[NR] = $1; b[NR] = $2; c[NR] = $3; printf "  round %d: %s %s %s\n", NR, $1, $2, $3 }
  function median(v, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  END { printf "  medians: %.2f %.2f %.2f\n", median(a, NR), median(b, NR), median(c, NR) }'
