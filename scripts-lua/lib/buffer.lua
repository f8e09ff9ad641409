--- @lib buffer
-- Sorted-set writes gathered during a call and sent at the end as one ZADD and one ZREM per
-- set, instead of one command per task. Only a member's last write is kept, which is exactly
-- what sending each write in turn would leave behind (ZADD and ZREM are idempotent per
-- member). A set is written out before anything in the call reads it, so reads always see
-- the call's own writes.
local zset_writes = {}
-- Members per command: well below Lua's limit on unpack().
local ZSET_CHUNK = 2000

local function zset_add(key, score, member)
  local writes = zset_writes[key]
  if not writes then
    writes = {}
    zset_writes[key] = writes
  end
  writes[member] = score
end

local function zset_remove(key, member)
  local writes = zset_writes[key]
  if not writes then
    writes = {}
    zset_writes[key] = writes
  end
  writes[member] = false
end

local function zset_flush(key)
  local writes = zset_writes[key]
  if not writes then
    return
  end
  zset_writes[key] = nil
  local adds, removes = {}, {}
  for member, score in pairs(writes) do
    if score then
      adds[#adds + 1] = score
      adds[#adds + 1] = member
    else
      removes[#removes + 1] = member
    end
  end
  for i = 1, #adds, 2 * ZSET_CHUNK do
    redis.call('ZADD', key, unpack(adds, i, math.min(i + 2 * ZSET_CHUNK - 1, #adds)))
  end
  for i = 1, #removes, ZSET_CHUNK do
    redis.call('ZREM', key, unpack(removes, i, math.min(i + ZSET_CHUNK - 1, #removes)))
  end
end
