--- @script resume-queue
--- @version 1
--- @summary Resumes a paused queue and dispatches its ready tasks at once.
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
--- @arg queue id The queue to resume.
--- @reply { changed: integer, pausedQueues: string, dispatched: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: O(1) for the meta field; dispatch O(log n) per task assigned, at most 200, the rest by
-- the next calls and housekeeping rounds (lib/dispatch); housekeeping when due.
--
-- Resuming a queue that is not paused changes nothing and answers `changed` 0. Otherwise the
-- queue leaves `pausedQueues` (the field goes when no queue is left), and its ready tasks go to
-- free nodes that serve it in this call: `dispatched` counts the tasks this call assigned, of
-- any queue. The nodes that got work are woken as by any dispatch.
open_namespace()
if not (config.paused and config.paused[queue]) then
  return { 'changed', 0, 'pausedQueues', config.pausedQueues, 'dispatched', 0 }
end
config.paused[queue] = nil
local names = {}
for name in pairs(config.paused) do
  names[#names + 1] = name
end
table.sort(names)
local list = table.concat(names, ',')
if list == '' then
  config.paused = nil
  redis.call('HDEL', metaKey, 'pausedQueues')
else
  redis.call('HSET', metaKey, 'pausedQueues', list)
end
config.pausedQueues = list
emit('resumed', nil, nil, queue)
maintain_if_due(100)
local dispatched = dispatch(nil, queue)
commit()
return { 'changed', 1, 'pausedQueues', list, 'dispatched', dispatched }
