-- wrk script: GET $PREFIX<n> through nginx, each request with the next key of $KEYS_FILE (first
-- line: the root key, skipped; then one key per line, as written by `keyhold bench seed`) in
-- X-API-Key. With PREFIX=/forward-auth it asks keyhold itself, as nginx would (X-Original-URI).
-- Counts the answers that are right (200 and the upstream's body, or for keyhold itself 200 and
-- no body), printed at the end, so a run whose answers are not all right is seen.
local keys = {}
local first = true
for line in io.lines(os.getenv("KEYS_FILE")) do
  if first then first = false else keys[#keys + 1] = line end
end
local prefix = os.getenv("PREFIX") or "/"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end

function init(args)
  counter = offset
  ok = 0
  other = 0
end

local ask_keyhold = prefix == "/forward-auth"
local expected = ask_keyhold and "" or "ok\n"

function request()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  if ask_keyhold then
    return wrk.format("GET", prefix, { ["X-API-Key"] = key, ["X-Original-URI"] = "/auth/" .. (counter % 1000),
                                       ["X-Original-Method"] = "GET" })
  end
  return wrk.format("GET", prefix .. (counter % 1000), { ["X-API-Key"] = key })
end

function response(status, headers, body)
  if status == 200 and (body or "") == expected then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  io.write(string.format("answers: %d ok, %d other\n", o, x))
end
