--- @lib clock
-- Every time taskmill compares comes from the Redis server's clock, so a client whose clock is
-- off can neither expire a lease early nor keep one alive. `now` is read once per call: a
-- script is atomic, so one instant stands for the whole state change.
local now = 0

local function read_clock()
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return now
end
