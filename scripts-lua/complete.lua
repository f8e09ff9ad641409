--- @script complete
--- @version 6
--- @summary Completes running tasks of one node with their results, releases their dependents, frees the slots, dispatches, and optionally starts the node's next tasks in the same call.
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
--- @arg nodeId id The node that ran the tasks.
--- @arg claim integer[0,100]=0 Start up to this many tasks newly assigned to the node and return them, saving a round trip.
--- @group results 1..100 One entry per completed task; at most 100, so that one call holds Redis a few ms.
--- @field id id The completed task.
--- @field token integer[1,9007199254740991] The assignment token the node received with the task.
--- @field result bytes Opaque result, returned byte for byte; at most the namespace's result cap.
--- @reply [id: string, token: integer, attempt: integer, payload: bytes, queue: string][]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_LEASE_LOST TM_RESULT_TOO_LARGE
--- @include "lib/claim"
--- @include "lib/maintenance"
-- Cost: per result O(log T), plus per dependency of a result one ZREM and one range look-up
-- (its parents released for retention, lib/lifecycle); dependents settled up to 250 edges per
-- call (the rest in later calls); dispatch O(log n) per task assigned, at most 200, and past 100
-- ready tasks no free node serves at most 16 queue look-ups of O(log T) (lib/dispatch);
-- housekeeping only when due. About 20 µs a result and 10 µs a task started here: 100 results
-- with a claim of 100 hold Redis about 3 ms.
open_namespace()
local RUNNING = { running = true }
local records = {}
local seen = {}
for i, entry in ipairs(results) do
  if seen[entry.id] then
    fail('TM_BAD_ARGUMENT', 'results[' .. i .. ']: task "' .. entry.id .. '" is also results[' .. seen[entry.id] .. ']')
  end
  seen[entry.id] = i
  records[i] = check_hold(i, nodeId, entry.id, entry.token, RUNNING)
  if #entry.result > config.resultCap then
    fail('TM_RESULT_TOO_LARGE', 'results[' .. i .. ']: ' .. #entry.result .. ' bytes, the cap is ' .. config.resultCap .. ' (init resultCap)')
  end
end

local node
for i, entry in ipairs(results) do
  local record = records[i]
  node = release_hold(entry.id, record)
  record[R_RESULT] = entry.result
  record[R_ERROR] = ''
  finish_task(entry.id, record, 'completed', nil)
end
if node then
  node.completed = node.completed + #results
end
settle_dependents()
maintain_if_due(100)
-- Tasks assigned to this node earlier start first; then dispatch may start more right here.
local started = {}
if claim > 0 and node then
  started = claim_assigned(node, claim)
  direct_start = { node = node.id, budget = claim - #started, started = started }
end
dispatch(nodeId)
direct_start = nil
commit()
return started
