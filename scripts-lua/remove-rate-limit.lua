--- @script remove-rate-limit
--- @version 1
--- @summary Removes a queue's rate limit and dispatches its ready tasks at once.
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key ready zset Ready tasks, by priority then enqueue order.
--- @key ready-by-queue zset Ready tasks again, as "<queue>><score>><task>", so that the next ready task of a queue is one lexicographic range.
--- @key delayed zset Delayed and retrying tasks, by due time.
--- @key leases zset Assigned and running tasks, by lease expiry.
--- @key assigned zset Tasks assigned to a node and not started, as "<node>><task>".
--- @key running zset Tasks running on a node, as "<node>><task>".
--- @key edges zset Unsettled dependencies, as "<parent>><child>".
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @key propagation list Finished tasks whose dependents are still to be settled.
--- @key done zset Completed tasks, by finish time.
--- @key dead zset Dead and canceled tasks, by finish time.
--- @key nodes hash Worker node id to its packed record.
--- @key free zset Nodes with a free slot, in dispatch order.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @key wake channel Prefix of the nodes' wake channels.
--- @key events stream Capped event log.
--- @key outbox hash Outcomes of finished tasks waiting to be relayed to other partitions, as "<partition>><task>".
--- @key relay zset The outbox's entries by when a relay may take them.
--- @arg queue id The queue whose limit goes.
--- @reply { changed: integer, rateLimits: string, dispatched: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: O(1) for the meta fields; dispatch O(log n) per task assigned, at most 200, the rest by
-- the next calls and housekeeping rounds (lib/dispatch); housekeeping when due.
--
-- Removing a limit a queue does not have changes nothing and answers `changed` 0. Otherwise the
-- queue leaves `rateLimits` (the field goes when no limit is left), its log of recent starts
-- (meta `rate:<queue>`) goes too, and its ready tasks go to free nodes in this call.
open_namespace()
if not (config.limits and config.limits[queue]) then
  return { 'changed', 0, 'rateLimits', config.rateLimits, 'dispatched', 0 }
end
config.limits[queue] = nil
local names = {}
for name in pairs(config.limits) do
  names[#names + 1] = name
end
table.sort(names)
local entries = {}
for i, name in ipairs(names) do
  entries[i] = name .. '=' .. config.limits[name].max .. '/' .. config.limits[name].interval
end
config.rateLimits = table.concat(entries, ',')
if config.rateLimits == '' then
  config.limits = nil
  redis.call('HDEL', metaKey, 'rateLimits', 'rate:' .. queue)
else
  redis.call('HSET', metaKey, 'rateLimits', config.rateLimits)
  redis.call('HDEL', metaKey, 'rate:' .. queue)
end
emit('rate-limit-removed', nil, nil, queue)
maintain_if_due(100)
local dispatched = dispatch(nil, queue)
commit()
return { 'changed', 1, 'rateLimits', config.rateLimits, 'dispatched', dispatched }
