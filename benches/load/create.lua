-- wrk: POST /diaries/{DIARY}/entries, one new entry per request.
-- Env: KEY, DIARY.
local key = os.getenv("KEY") or ""
local diary = os.getenv("DIARY") or ""
local n = 0
local id = tostring(math.random(1, 1e9))
request = function()
  n = n + 1
  local body = string.format(
    '{"content": "load test note %s-%d: the deploy finished and the dashboards stayed green", "tags": ["load"]}',
    id, n)
  return wrk.format("POST", "/diaries/" .. diary .. "/entries",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
