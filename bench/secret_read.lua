-- wrk script: GET /v1/secret/data/bench/s<N> for N cycling through 0..$SECRETS-1, with the root key
-- in $TOKEN. Counts answers that are not 200 and reports them: a fast wrong answer is no result.
local secrets = tonumber(os.getenv("SECRETS"))
local token = os.getenv("TOKEN")
local counter = 0
local thread_offset = 0
local threads = {}

function setup(thread)
  thread:set("thread_offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["X-Vault-Token"] = token
  counter = thread_offset
  bad = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/secret/data/bench/s" .. (counter % secrets))
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("not 200: %d\n", total))
end
