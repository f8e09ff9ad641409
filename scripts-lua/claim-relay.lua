--- @script claim-relay
--- @version 1
--- @summary Takes outcomes due for relay to other partitions and holds them for a relay lease: deliver each with deliver-outcome in its partition, then remove it with ack-relay; what a relay that died leaves is taken again when the lease ends.
--- @key meta hash Key-schema version, configuration and counters.
--- @key outbox hash Outcomes of finished tasks waiting to be relayed to other partitions, as "<partition>><task>".
--- @key relay zset The outbox's entries by when a relay may take them.
--- @arg limit integer[1,1000]=100 Most outcomes taken.
--- @arg leaseMs integer[10,3600000]=10000 How long the outcomes are held for this relay before another may take them.
--- @reply [partition: integer, id: string, state: "completed" | "dead" | "canceled", result: bytes, token: integer][]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
--- @include "lib/record"
-- Cost: O(log n) plus, per outcome taken, one outbox read and one score write (n outbox
-- entries); `limit` bounds the call.
-- In the reply, `partition` is where an outcome goes and `token`, the end of the lease, is what
-- ack-relay checks.
open_namespace_for_reading()
read_clock()
local members = redis.call('ZRANGEBYSCORE', relayKey, '-inf', now, 'LIMIT', 0, limit)
if #members == 0 then
  return {}
end
local packed = redis.call('HMGET', outboxKey, unpack(members))
local token = now + leaseMs
local rows, taken, strays = {}, {}, {}
for i, member in ipairs(members) do
  if packed[i] then
    local partition, id = string.match(member, '^(%d+)>(.+)$')
    local outcome = cmsgpack.unpack(packed[i])
    rows[#rows + 1] = { tonumber(partition), id, STATE_NAMES[outcome[1]], outcome[2], token }
    taken[#taken + 1] = token
    taken[#taken + 1] = member
  else
    -- Cannot happen while only ack-relay removes entries, which removes both halves; dropped
    -- rather than returned, since there is nothing to deliver.
    strays[#strays + 1] = member
  end
end
if #taken > 0 then
  redis.call('ZADD', relayKey, unpack(taken))
end
if #strays > 0 then
  redis.call('ZREM', relayKey, unpack(strays))
end
return rows
