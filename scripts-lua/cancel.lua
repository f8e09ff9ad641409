--- @script cancel
--- @version 5
--- @summary Cancels a task: at once when it has not started, at its node's next heartbeat when it runs; dependents follow their failure rule.
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
--- @arg id id The task to cancel.
--- @reply "canceled" | "cancel-requested" | "finished"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK
--- @include "lib/maintenance"
-- Cost: O(log T) for the task, its dependents settled and its parents released up to 250
-- edges per call.
open_namespace()
local record = load_task(id)
if not record then
  fail('TM_UNKNOWN_TASK', 'id: no task "' .. id .. '" in this namespace')
end
local state = record[R_STATE]
if state == 'completed' or state == 'dead' or state == 'canceled' then
  return 'finished'
end
if state == 'running' then
  if record[R_CANCEL_REQUESTED] == 0 then
    record[R_CANCEL_REQUESTED] = 1
    save_task(id, record)
    emit('cancel-requested', id, record[R_NODE], nil)
    commit()
  end
  return 'cancel-requested'
end
if state == 'ready' then
  zset_remove(readyKey, id)
elseif state == 'delayed' or state == 'retrying' then
  zset_remove(delayedKey, id)
elseif state == 'assigned' then
  release_hold(id, record)
end
finish_task(id, record, 'canceled', 'canceled')
settle_dependents()
maintain_if_due(100)
dispatch()
commit()
return 'canceled'
