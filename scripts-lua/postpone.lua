--- @script postpone
--- @version 1
--- @summary Hands a running task back from its node to wait delayMs (the remote API said "retry after"), without using an attempt.
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
--- @arg nodeId id The node giving the task back.
--- @arg id id The task.
--- @arg token integer[1,9007199254740991] The assignment token the node received with the task.
--- @arg delayMs integer[0,86400000] How long the task waits before it is ready again, in ms.
--- @reply [outcome: "postponed" | "canceled", runAt: integer]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_LEASE_LOST
--- @include "lib/claim"
--- @include "lib/maintenance"
-- Cost: O(log T) for the task plus dispatch, O(log n) per task assigned.
--
-- The attempt the start counted is taken back, as when a node releases a task, and the node's
-- slot is free at once. The task waits in `delayed` until now + delayMs (its run-at time is
-- moved there) and is then ready again at its old place: priority, then enqueue order. A task
-- whose cancel was requested while it ran ends canceled instead (`runAt` 0).
open_namespace()
local record = check_hold(nil, nodeId, id, token, { running = true })
unhold(id, record)
if record[R_CANCEL_REQUESTED] == 1 then
  finish_task(id, record, 'canceled', 'canceled')
  settle_dependents()
  maintain_if_due(100)
  dispatch(nodeId)
  commit()
  return { 'canceled', 0 }
end
local run_at = now + delayMs
record[R_RUN_AT] = run_at
set_state(record, 'delayed')
save_task(id, record)
zset_add(delayedKey, run_at, id)
lower_due(run_at)
emit('postponed', id, nodeId, 'until ' .. run_at)
maintain_if_due(100)
dispatch(nodeId)
commit()
return { 'postponed', run_at }
