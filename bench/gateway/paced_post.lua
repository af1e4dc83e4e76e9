-- wrk script: post.lua's requests, each connection waiting WRK_DELAY_MS (env,
-- whole milliseconds, default 0) after each answer before its next request: an
-- open-ish load at about connections / (delay + latency) requests/s, for
-- latency below capacity (run_shadow.sh calibrates the delay).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 1000 do
  bodies[i] = string.format(
    '{"user_id":"u%d","features":[0.9,0.1,0.5,0.5,0.5,0.5,0.5,%d.5]}', i, i % 7)
end
local n = 0
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0") or 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
delay = function()
  return pause
end
