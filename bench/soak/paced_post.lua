-- wrk script for the soak: POST one 8-feature row (1000 rotating user ids), each
-- connection waiting SOAK_DELAY_MS (env, default 20) between requests, so that
-- wrk -cN sends about N * 1000 / SOAK_DELAY_MS requests a second.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 1000 do
  bodies[i] = string.format(
    '{"user_id":"u%d","features":[0.%d,0.1,0.5,0.5,0.5,0.5,0.5,%d.5]}', i, i % 10, i % 7)
end
local n = 0
local pause = tonumber(os.getenv("SOAK_DELAY_MS") or "20")
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
delay = function()
  return pause
end
