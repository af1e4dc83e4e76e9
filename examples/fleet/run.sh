#!/usr/bin/env bash
# Fleet mode on one machine: PostgreSQL (initdb + pg_ctl into a temp dir), Prometheus,
# three `mlcanary serve` replicas and nginx in front of them; a canary deployed through
# nginx, the leader killed -9 mid-rollout, another replica taking over, the rollout
# COMPLETED as judged from Prometheus. Everything runs on 127.0.0.1 on free ports and is
# removed at the end (KEEP=1 keeps the temp dir and its logs).
#
#   examples/fleet/run.sh [path/to/mlcanary]      (default: build/apps/mlcanary/mlcanary)
#
# Needs Debian's postgresql, prometheus, nginx-light, wrk and curl (scripts/install-deps).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$repo/build/apps/mlcanary/mlcanary}")
[[ -x $bin ]] || { echo "run.sh: $bin is not an executable (build it first: make build)" >&2; exit 2; }
for tool in prometheus nginx wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (scripts/install-deps)" >&2; exit 2; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $pgbin ]] || { echo "run.sh: PostgreSQL is missing (scripts/install-deps)" >&2; exit 2; }

dir=$(mktemp -d /tmp/mlcanary-fleet-XXXXXX)
chmod 755 "$dir"
export MLCANARY_API_TOKEN=fleet-admin-token MLCANARY_READ_TOKEN=fleet-reader-token
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -f $dir/pg/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# PostgreSQL refuses to run as root: as root, its programs run as `postgres`.
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
api() {  # api METHOD PATH [BODY]: the control API through nginx
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $MLCANARY_API_TOKEN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$nginx_control$2"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
leader() {  # the index of the replica whose /metrics says it leads, or nothing
  local i
  for i in 0 1 2; do
    if curl -sf -H "Authorization: Bearer $MLCANARY_READ_TOKEN" \
         "http://127.0.0.1:${control[$i]}/metrics" 2>/dev/null | grep -q '^mlcanary_fleet_leader 1'; then
      echo "$i"; return
    fi
  done
}

say "PostgreSQL in $dir/pg"
pg_port=$(free_port)
echo "fleet-pg-secret" > "$dir/pw"
[[ $(id -u) == 0 ]] && chown postgres "$dir" "$dir/pw"
as_pg "$pgbin/initdb" -D "$dir/pg" -U mlcanary --pwfile "$dir/pw" --auth=scram-sha-256 -E UTF8 \
  --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
  -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
export PGPASSWORD=fleet-pg-secret   # the store URL carries no password

say "Prometheus and three replicas"
prom_port=$(free_port)
inference=() control=()
for i in 0 1 2; do
  inference+=("$(free_port)") control+=("$(free_port)")
  cat > "$dir/replica$i.yaml" <<EOF
listen: {inference: 127.0.0.1:${inference[$i]}, control: 127.0.0.1:${control[$i]}}
store: postgresql://mlcanary@127.0.0.1:$pg_port/postgres
controller: {interval: 500ms, lease: 3s}
metrics: {source: prometheus, url: 'http://127.0.0.1:$prom_port'}
endpoints:
  - name: recs
    variants:
      - name: production
        model: {kind: xgboost, path: $repo/examples/models/recs-v1.json}
EOF
done
cat > "$dir/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: mlcanary
    authorization: {credentials: '$MLCANARY_READ_TOKEN'}
    static_configs:
      - targets: ['127.0.0.1:${control[0]}', '127.0.0.1:${control[1]}', '127.0.0.1:${control[2]}']
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
pids+=($!)
start_replica() {
  "$bin" serve --config "$dir/replica$1.yaml" >>"$dir/replica$1.log" 2>&1 &
  replica_pid[$1]=$!
  pids+=($!)
}
replica_pid=()
for i in 0 1 2; do start_replica "$i"; done
for i in 0 1 2; do
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:${control[$i]}/healthz" >/dev/null && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:${control[$i]}/healthz" >/dev/null ||
    { echo "replica $i did not start:"; tail -5 "$dir/replica$i.log"; exit 1; }
  echo "replica $i: inference :${inference[$i]}, control :${control[$i]}"
done

say "nginx in front"
nginx_inference=$(free_port) nginx_control=$(free_port)
mkdir -p "$dir/nginx"
cat > "$dir/nginx.conf" <<EOF
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events {}
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  upstream inference { server 127.0.0.1:${inference[0]}; server 127.0.0.1:${inference[1]}; server 127.0.0.1:${inference[2]}; keepalive 16; }
  upstream control { server 127.0.0.1:${control[0]}; server 127.0.0.1:${control[1]}; server 127.0.0.1:${control[2]}; }
  server {
    listen 127.0.0.1:$nginx_inference;
    location / { proxy_pass http://inference; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:$nginx_control;
    location / { proxy_pass http://control; proxy_next_upstream error timeout; }
  }
}
EOF
nginx -c "$dir/nginx.conf" -p "$dir/nginx" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_control/healthz" >/dev/null && break; sleep 0.1; done
echo "inference: http://127.0.0.1:$nginx_inference   control: http://127.0.0.1:$nginx_control"
wrk -t1 -c6 -d10m -s "$repo/bench/gateway/post.lua" \
  "http://127.0.0.1:$nginx_inference/v1/endpoints/recs/invocations" >"$dir/wrk.log" 2>&1 &
pids+=($!)

say "a canary, deployed through nginx (any replica records it; the leader runs it)"
for _ in $(seq 50); do [[ -n $(leader) ]] && break; sleep 0.2; done
first=$(leader)
echo "leader: replica $first"
policy='{"initial_weight": 0.1, "step": 0.2, "bake": "4s", "interval": "4s", "min_invocations": 5, "max_latency_ratio": 1000}'
dep=$(api POST /v1/deployments "{\"endpoint\": \"recs\", \"variant\": \"canary\", \"model\": {\"kind\": \"xgboost\", \"path\": \"$repo/examples/models/recs-v2.ubj\"}, \"policy\": $policy}" | field '["id"]')
echo "deployment $dep"
state() { api GET "/v1/deployments/$dep" | field '["state"], d["canary_weight"]'; }
for _ in $(seq 300); do
  read -r s w <<<"$(state)"
  awk -v w="$w" 'BEGIN { exit !(w >= 0.29) }' && break
  sleep 0.2
done
echo "state $s, canary weight $w"

say "kill -9 the leader (replica $first) mid-rollout"
kill -9 "${replica_pid[$first]}"
wait "${replica_pid[$first]}" 2>/dev/null || true
killed=$(date +%s.%N)
new=""
for _ in $(seq 200); do new=$(leader); [[ -n $new && $new != "$first" ]] && break; sleep 0.1; done
[[ -n $new && $new != "$first" ]] || { echo "no new leader"; exit 1; }
printf 'replica %s leads after %.1f s\n' "$new" "$(python3 -c "import time; print(time.time() - $killed)")"
start_replica "$first"   # back as a follower
echo "replica $first restarted"

say "the rollout goes on"
for _ in $(seq 600); do
  read -r s w <<<"$(state)"
  [[ $s != IN_PROGRESS && $s != PENDING ]] && break
  sleep 0.2
done
api GET "/v1/deployments/$dep/events" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for e in (doc["events"] if isinstance(doc, dict) else doc):
    if e["kind"] != "check":
        print("  #%3d %-14s %11s -> %-11s weight %.2f -> %.2f  %s" % (
            e["seq"], e["kind"], e["from_state"], e["to_state"], e["weight_before"],
            e["weight_after"], e["reason"][:60]))'
echo "final state: $s"
for i in 0 1 2; do
  printf 'replica %s serves: %s\n' "$i" "$(curl -sf -H "Authorization: Bearer $MLCANARY_READ_TOKEN" \
    "http://127.0.0.1:${control[$i]}/metrics" | grep '^mlcanary_fleet_variant_weight' | tr '\n' ' ')"
done
[[ $s == COMPLETED ]]
