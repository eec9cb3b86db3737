-- wrk script: verify.lua's requests, and a count of the answers that are not VALID (a fast wrong
-- answer is no result). Prints "invalid answers: N" at the end.
dofile("bench/verify.lua")

local base_setup = setup
local threads = {}
function setup(thread)
  base_setup(thread)
  table.insert(threads, thread)
end

invalid = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"valid":true', 1, true) then
    invalid = invalid + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("invalid") end
  io.write(string.format("invalid answers: %d\n", n))
end
