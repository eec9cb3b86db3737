-- wrk script: POST /v2/ratelimit.limit for identifier user_<N> (N cycling through
-- 0..$IDENTIFIERS-1) of namespace "bench", $LIMIT per 60 s, with the root key in $TOKEN. Counts the
-- answers that admitted, that refused, and that were anything but a 200 with a decision: a fast
-- wrong answer is no result.
local identifiers = tonumber(os.getenv("IDENTIFIERS"))
local limit = os.getenv("LIMIT")
local token = os.getenv("TOKEN")
local counter = 0
local thread_offset = 0
local threads = {}

function setup(thread)
  thread:set("thread_offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
  counter = thread_offset
  admitted, refused, bad = 0, 0, 0
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/v2/ratelimit.limit", nil,
    '{"namespace":"bench","identifier":"user_' .. (counter % identifiers) ..
    '","limit":' .. limit .. ',"duration":60000}')
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif string.find(body, '"success":true', 1, true) then
    admitted = admitted + 1
  elseif string.find(body, '"success":false', 1, true) then
    refused = refused + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local a, r, b = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("admitted")
    r = r + t:get("refused")
    b = b + t:get("bad")
  end
  io.write(string.format("admitted: %d\nrefused: %d\nbad: %d\n", a, r, b))
end
