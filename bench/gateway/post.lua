-- wrk script: POST one 8-feature row with a random user id per request. With
-- WRK_DELAY_MS (env, whole milliseconds) each connection waits that long after
-- each answer (run_shadow.sh's paced load); without it wrk sends back to back.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 1000 do
  bodies[i] = string.format(
    '{"user_id":"u%d","features":[0.9,0.1,0.5,0.5,0.5,0.5,0.5,%d.5]}', i, i % 7)
end
local n = 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then
  delay = function()
    return pause
  end
end
