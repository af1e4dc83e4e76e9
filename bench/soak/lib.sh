# shellcheck shell=bash
# Shared by the soak scripts: starts `mlcanary serve` on free loopback ports with a
# temporary config and data directory, and reads the serve process's RSS and fds.
# Sourced; expects $root (the repository) and $bin (the mlcanary binary).
# shellcheck disable=SC2154  # bin comes from the script that sources this file

soak_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# soak_start_serve PRODUCTION_MODEL: sets $serve_pid, $inference_port, $control_port, $workdir.
soak_start_serve() {
  workdir="$(mktemp -d /tmp/mlcanary-soak.XXXXXX)"
  inference_port="$(soak_free_port)"
  control_port="$(soak_free_port)"
  cat > "$workdir/serve.yaml" <<YAML
listen:
  inference: 127.0.0.1:$inference_port
  control: 127.0.0.1:$control_port
store: sqlite:$workdir/mlcanary.db
controller:
  interval: 1s
endpoints:
  - name: recs
    variants:
      - name: production
        weight: 1.0
        model: {kind: xgboost, path: $1}
YAML
  export MLCANARY_API_TOKEN="${MLCANARY_API_TOKEN:-soak-admin-token}"
  ${SERVE_NICE:-nice} "$bin" serve --config "$workdir/serve.yaml" > "$workdir/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 1 300); do
    if curl -fs "http://127.0.0.1:$inference_port/ping" > /dev/null 2>&1 &&
       curl -fs "http://127.0.0.1:$control_port/healthz" > /dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$serve_pid" 2> /dev/null; then
      echo "serve exited: $(tail -5 "$workdir/serve.log")" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "serve did not become ready: $(tail -5 "$workdir/serve.log")" >&2
  return 1
}

soak_stop_serve() {
  if [[ -n "${serve_pid:-}" ]] && kill -0 "$serve_pid" 2> /dev/null; then
    kill -TERM "$serve_pid" 2> /dev/null || true
    wait "$serve_pid" 2> /dev/null || true
  fi
}

soak_rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$serve_pid/status"; }

# soak_settled_rss_mb: the RSS once it has stopped moving (a removed model is
# freed in the background after the API answers): the last four readings, 250 ms
# apart, within 1 MB of each other, or after 10 s.
soak_settled_rss_mb() {
  local readings=()
  for _ in $(seq 1 40); do
    readings+=("$(soak_rss_mb)")
    if ((${#readings[@]} >= 4)) && awk -v a="${readings[-1]}" -v b="${readings[-2]}" \
      -v c="${readings[-3]}" -v d="${readings[-4]}" 'BEGIN {
        lo = a; hi = a
        if (b < lo) lo = b; if (b > hi) hi = b; if (c < lo) lo = c; if (c > hi) hi = c
        if (d < lo) lo = d; if (d > hi) hi = d
        exit !(hi - lo < 1) }'; then
      break
    fi
    sleep 0.25
  done
  echo "${readings[-1]}"
}
soak_fds() { find "/proc/$serve_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# soak_api METHOD PATH [BODY]: sets $soak_status (HTTP status) and $soak_body.
soak_api() {
  soak_status="$(curl -s -o "$workdir/answer" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $MLCANARY_API_TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$control_port$2")" || true
  soak_body="$(cat "$workdir/answer" 2> /dev/null || true)"
}

# soak_deploy MODEL_PATH [VARIANT]: starts a canary rollout that does not advance
# by itself (bake 1h); sets $soak_id to the deployment's id.
soak_deploy() {
  soak_api POST /v1/deployments \
    "{\"endpoint\":\"recs\",\"model\":{\"kind\":\"xgboost\",\"path\":\"$1\"},${2:+\"variant\":\"$2\",}\"policy\":{\"bake\":\"1h\"}}"
  if [[ "$soak_status" != 201 ]]; then
    echo "deploy of $1 answered $soak_status: $soak_body" >&2
    return 1
  fi
  # shellcheck disable=SC2034  # read by the scripts that source this file
  soak_id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<< "$soak_body")"
}
