--- @script watch-dependency
--- @version 1
--- @summary Registers tasks of this partition as dependencies of tasks about to be enqueued in another partition: each one's outcome is relayed there when it finishes, or is queued for relay now when it has finished already. Call it before that enqueue; an unknown id refuses the whole call.
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
--- @arg partition integer[0,9999] The partition where the dependent tasks are enqueued.
--- @arg ids idlist[10000] The tasks of this partition they depend on.
--- @reply ("pending" | "finished")[]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_DEPENDENCY
--- @include "lib/lifecycle"
-- Cost: O(log T) per id: one record read, and one edge or one outbox entry written. Watching a
-- task again changes nothing while it is pending; once it has finished, its outcome is queued
-- (and relayed) again, which the partition of the dependents takes as a duplicate.
open_namespace()
-- Refused before any write, so that a producer learns of an unknown dependency before it has
-- written anything in the partition of the dependents.
local records = {}
for i, id in ipairs(ids) do
  local record = load_task(id)
  if not record then
    fail('TM_UNKNOWN_DEPENDENCY', 'ids[' .. i .. ']: no task "' .. id .. '" in this partition')
  end
  records[i] = record
end

local reply = {}
for i, id in ipairs(ids) do
  local record = records[i]
  local state = record[R_STATE]
  if state == 'completed' or state == 'dead' or state == 'canceled' then
    queue_outcome(partition, id, record)
    reply[i] = 'finished'
  else
    -- A remote edge (lib/outbox): propagation turns it into an outbox entry when the task ends.
    redis.call('ZADD', edgesKey, 0, id .. '>/' .. partition)
    if record[R_HAS_DEPENDENTS] ~= 1 then
      record[R_HAS_DEPENDENTS] = 1
      save_task(id, record)
    end
    reply[i] = 'pending'
  end
end
commit()
return reply
