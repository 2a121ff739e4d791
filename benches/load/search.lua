-- wrk: POST /diaries/search with a rotating set of queries (no two
-- consecutive requests of a connection send the same text, so nothing can
-- be served from a cache). Env: KEY (API key), DIARY (optional diary id).
local queries = {
  "how do we rotate the signing keys?", "deploy -staging", "tuning the vector index for recall",
  "what broke in the last release", "database migration lessons", "who owns the search crate",
  "flaky tests in CI", "memory usage of the index", "postgres connection pool size",
  "rust borrow checker errors", "on-call handover notes", "latency budget for search",
  "signing entries with ed25519", "backup and restore procedure", "kubernetes liveness probes",
  "rate limiting per key", "what did priya say about reviews", "benchmark results last week",
  "how to run the demo", "tokenizer truncation at 512 tokens", "clippy warnings policy",
  "the staging cluster outage", "embedding batch size", "hybrid search fusion weights",
  "supersede an old decision", "incident postmortem", "code review conventions",
  "a small animal", "the meaning of a word", "a kind of tree", "to move quickly",
}
local key = os.getenv("KEY") or ""
local diary = os.getenv("DIARY")
local n = 0
request = function()
  n = n + 1
  local q = queries[(n % #queries) + 1]
  local body
  if diary and diary ~= "" then
    body = string.format('{"query": "%s", "diaryId": "%s", "limit": 10}', q, diary)
  else
    body = string.format('{"query": "%s", "limit": 10}', q)
  end
  return wrk.format("POST", "/diaries/search",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
