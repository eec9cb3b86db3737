-- wrk script: POST /v2/keys.verifyKey, cycling through the keys in $KEYS_FILE
-- (first line: the root key; then one key per line, as written by `keyhold bench seed`).
local keys = {}
local root
for line in io.lines(os.getenv("KEYS_FILE")) do
  if root == nil then root = line else keys[#keys + 1] = line end
end
local counter = 0
local thread_offset = 0

function setup(thread)
  thread:set("thread_offset", counter * 7919)
  counter = counter + 1
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. root
  counter = thread_offset
end

function request()
  counter = counter + 1
  local key = keys[(counter % #keys) + 1]
  return wrk.format(nil, "/v2/keys.verifyKey", nil, '{"key":"' .. key .. '"}')
end

