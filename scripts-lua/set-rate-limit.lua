--- @script set-rate-limit
--- @version 1
--- @summary Limits a queue to at most max task starts in any window of intervalMs on the server clock, or changes its limit; dispatches at once what a raised limit lets start.
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
--- @arg queue id The queue to limit, named as enqueue names it.
--- @arg max integer[1,1000000] Most tasks of the queue started in any window of intervalMs.
--- @arg intervalMs integer[1,86400000] The window, in ms.
--- @reply { changed: integer, rateLimits: string, dispatched: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: O(1) in tasks and nodes for the meta field; dispatch O(log n) per task assigned, at most
-- 200 (lib/dispatch); housekeeping when due. The limits are one meta field, `rateLimits`,
-- "<queue>=<max>/<intervalMs>" comma-separated and sorted by queue, read by every call with the
-- rest of the configuration (lib/config), so at most RATE_LIMITS_MAX queues may have one.
--
-- Setting the limit a queue has already changes nothing and answers `changed` 0. A changed
-- limit keeps the queue's log of recent starts (meta `rate:<queue>`), so lowering it holds the
-- queue until the starts already made fit under the new one. The limit counts starts: dispatch
-- reserves a task's place in the log when it gives the task to a node, and the node's start
-- moves it to the moment the attempt begins (lib/dispatch, Rate limits). Setting a limit also sets
-- `queueFilters`, so that the tasks of other queues waiting behind a held backlog are indexed by
-- queue and reached (lib/dispatch, Queues).
local RATE_LIMITS_MAX = 100
open_namespace()
local spelled = max .. '/' .. intervalMs
local current = config.limits and config.limits[queue]
if current and current.max == max and current.interval == intervalMs then
  return { 'changed', 0, 'rateLimits', config.rateLimits, 'dispatched', 0 }
end
config.limits = config.limits or {}
config.limits[queue] = { max = max, interval = intervalMs }
local names = {}
for name in pairs(config.limits) do
  names[#names + 1] = name
end
if #names > RATE_LIMITS_MAX then
  fail('TM_BAD_ARGUMENT', 'queue: ' .. RATE_LIMITS_MAX .. ' queues have a rate limit already, the most there may be; remove one first')
end
table.sort(names)
local entries = {}
for i, name in ipairs(names) do
  entries[i] = name .. '=' .. config.limits[name].max .. '/' .. config.limits[name].interval
end
config.rateLimits = table.concat(entries, ',')
redis.call('HSET', metaKey, 'rateLimits', config.rateLimits, 'queueFilters', 1)
config.queueFilters = true
emit('rate-limit-set', nil, nil, queue .. ' ' .. spelled)
maintain_if_due(100)
local dispatched = dispatch(nil, queue)
commit()
return { 'changed', 1, 'rateLimits', config.rateLimits, 'dispatched', dispatched }
