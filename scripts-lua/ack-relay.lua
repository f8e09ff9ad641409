--- @script ack-relay
--- @version 1
--- @summary Removes delivered outcomes from the outbox, each only while the relay's claim still holds it: one taken again since, or queued again by a later watch, stays for the next relay.
--- @key meta hash Key-schema version, configuration and counters.
--- @key outbox hash Outcomes of finished tasks waiting to be relayed to other partitions, as "<partition>><task>".
--- @key relay zset The outbox's entries by when a relay may take them.
--- @group entries 1..1000 The outcomes delivered, as claim-relay returned them.
--- @field partition integer[0,9999] The partition the outcome was delivered to.
--- @field id id The task whose outcome it is.
--- @field token integer[1,9007199254740991] The token claim-relay returned with it.
--- @reply integer
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
-- Cost: one ZSCORE per entry, then one ZREM and one HDEL. Replies how many entries it removed.
open_namespace_for_reading()
local removed, listed = {}, {}
for _, entry in ipairs(entries) do
  local member = entry.partition .. '>' .. entry.id
  -- The claim's token is the score it set: any later claim sets a later one, and a new write
  -- sets 0, so an equal score means nothing has happened to the entry since this claim.
  local score = redis.call('ZSCORE', relayKey, member)
  if not listed[member] and score and tonumber(score) == entry.token then
    listed[member] = true
    removed[#removed + 1] = member
  end
end
if #removed > 0 then
  redis.call('ZREM', relayKey, unpack(removed))
  redis.call('HDEL', outboxKey, unpack(removed))
end
return #removed
