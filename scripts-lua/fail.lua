--- @script fail
--- @version 5
--- @summary Records a handler failure: the task retries after its backoff, or dies when attempts are used up or the error is not retryable; a task whose cancel was requested ends canceled.
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
--- @arg nodeId id The node that ran the task.
--- @arg id id The failed task.
--- @arg token integer[1,9007199254740991] The assignment token the node received with the task.
--- @arg message string[0,65536] What went wrong, kept with the task as its error.
--- @arg retryable boolean=1 0 when retrying cannot help: the task dies at once.
--- @reply [outcome: "retrying" | "dead" | "canceled", retryAt: integer]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_LEASE_LOST
--- @include "lib/claim"
--- @include "lib/maintenance"
-- Cost: O(log T) for the task, its dependents settled and its parents released up to 1,000
-- edges per call, dispatch O(log n) per task assigned (and at most 16 queue look-ups past a
-- backlog of other queues, lib/dispatch); housekeeping only when due.
open_namespace()
local record = check_hold(nil, nodeId, id, token, { running = true })

local node = release_hold(id, record)
if node then
  node.failed = node.failed + 1
end
record[R_ERROR] = message
totals.failed = totals.failed + 1
emit('failed', id, nodeId, message)
local outcome, retry_at = 'dead', 0
if record[R_CANCEL_REQUESTED] == 1 then
  outcome = 'canceled'
  finish_task(id, record, 'canceled', 'canceled')
elseif not retryable then
  finish_task(id, record, 'dead', 'not retryable: ' .. message)
elseif record[R_ATTEMPTS] >= record[R_MAX_ATTEMPTS] then
  finish_task(id, record, 'dead', 'attempts exhausted (' .. record[R_ATTEMPTS] .. ' of ' .. record[R_MAX_ATTEMPTS] .. ')')
else
  local wait = record[R_BACKOFF_MS]
  if record[R_BACKOFF] == 'exponential' then
    wait = wait * math.pow(2, record[R_ATTEMPTS] - 1)
  end
  wait = math.min(wait, record[R_BACKOFF_CAP_MS])
  outcome, retry_at = 'retrying', now + wait
  set_state(record, 'retrying')
  save_task(id, record)
  zset_add(delayedKey, retry_at, id)
  lower_due(retry_at)
  emit('retried', id, nodeId, 'retry at ' .. retry_at)
end
settle_dependents()
maintain_if_due(100)
dispatch(nodeId)
commit()
return { outcome, retry_at }
