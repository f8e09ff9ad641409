--- @script remove-task
--- @version 1
--- @summary Removes a finished task (completed, dead or canceled) that nothing holds any more.
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
--- @arg id id The finished task to remove.
--- @reply "completed" | "dead" | "canceled"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_INVALID_STATE
--- @include "lib/removal"
-- Cost: O(log T): the task, one look-up and one removal in its retention index.
open_namespace()
local record = load_task(id)
-- A proxy stands for a task of another partition: it goes with its own dependents.
if not record or is_proxy(id) then
  fail('TM_UNKNOWN_TASK', 'id: no task "' .. id .. '" in this namespace')
end
local state = record[R_STATE]
if state ~= 'completed' and state ~= 'dead' and state ~= 'canceled' then
  fail('TM_INVALID_STATE', 'id: task "' .. id .. '" is ' .. state .. '; only a finished task can be removed (cancel it first)')
end
-- Retained means in the index: the one look-up that tells whether anything still holds it.
local index_key, retained
if state == 'completed' then
  index_key, retained = doneKey, redis.call('ZSCORE', doneKey, id)
else
  index_key, retained = deadKey, redis.call('ZSCORE', deadKey, id)
end
if not retained then
  fail('TM_INVALID_STATE', 'id: task "' .. id .. '" is ' .. state .. ' but still held: a dependent may yet' ..
    ' read its result, or its dependencies are being released; it can be removed once they have finished')
end
remove_retained(id, record, index_key)
commit()
return state
