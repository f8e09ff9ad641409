--- @script deliver-outcome
--- @version 1
--- @summary Applies outcomes of tasks of other partitions here: a waiting proxy takes its outcome and its dependents are settled as after a local dependency; an outcome that arrived before changes nothing; one that comes before any task here waits on it is kept for the enqueue to come.
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
--- @group outcomes 1..1000 The outcomes, as claim-relay returned them in the partition of the finished tasks.
--- @field partition integer[0,9999] The partition of the finished task.
--- @field id id The finished task.
--- @field state enum(completed|dead|canceled) How it ended.
--- @field result bytes Its result when it completed, else empty; not held to this partition's result cap, since the task's own partition took it.
--- @reply ("settled" | "duplicate" | "early")[]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: O(log T) per outcome; dependents settled up to 1,000 edges per call (the rest in later
-- calls), dispatch O(log n) per task assigned; housekeeping only when due. Delivering an
-- outcome again, or out of order with the enqueue of the tasks that wait on it, is safe
-- (lib/outbox).
open_namespace()
local reply = {}
for i, outcome in ipairs(outcomes) do
  local id = outcome.partition .. '/' .. outcome.id
  local result = outcome.state == 'completed' and outcome.result or ''
  local proxy = load_task(id)
  if not proxy then
    proxy = new_proxy(outcome.state)
    proxy[R_RESULT] = result
    save_task(id, proxy)
    retain(id, proxy, now + PROXY_HOLD_MS)
    reply[i] = 'early'
  elseif proxy[R_STATE] == 'waiting' then
    settle_proxy(id, proxy, outcome.state, result)
    reply[i] = 'settled'
  else
    reply[i] = 'duplicate'
  end
end
settle_dependents()
maintain_if_due(100)
dispatch()
commit()
return reply
