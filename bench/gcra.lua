-- GCRA in Redis, the peer of keyhold's ratelimit.limit in bench/ratelimit_redis: one key per
-- identifier holding its theoretical arrival time (ms, a float), expiring when the bucket is full.
-- KEYS[1]: the identifier's key. ARGV: limit, duration (ms), cost.
-- Returns {admitted (1|0), remaining, reset (ms until the bucket is full)}, as keyhold answers.
local limit = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local token = duration / limit
local tat = tonumber(redis.call("GET", KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + cost * token
if next_tat - now > duration then
  return {0, math.floor((duration - (tat - now)) / token), math.ceil(tat - now)}
end
redis.call("SET", KEYS[1], tostring(next_tat), "PX", math.ceil(next_tat - now))
return {1, math.floor((duration - (next_tat - now)) / token), math.ceil(next_tat - now)}
