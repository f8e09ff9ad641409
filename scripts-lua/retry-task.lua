--- @script retry-task
--- @version 1
--- @summary Runs a dead or canceled task again under the same id, with a fresh attempt budget.
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
--- @arg id id The dead or canceled task to run again.
--- @reply "ready" | "delayed"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_INVALID_STATE
--- @include "lib/maintenance"
-- Cost: O(log T) for the task and the indexes it moves between; housekeeping when due.
--
-- Only a task that nothing else was settled on is retried. A task that died because a
-- dependency failed (or was canceled before its dependencies completed) would run without its
-- parents' results, so it is refused: retry the dependency first. A task that had dependents is
-- refused too: they have settled on its failure already (died, or ran anyway), and running it
-- again would not bring them back; enqueue the graph again under new ids instead. A retried
-- task whose dependencies all completed does not hold them again (its edges to them went when it
-- finished), so retention may sweep them while it runs: dependency-results then says `removed`.
open_namespace()
local record = load_task(id)
-- A proxy stands for a task of another partition: it is retried there.
if not record or is_proxy(id) then
  fail('TM_UNKNOWN_TASK', 'id: no task "' .. id .. '" in this namespace')
end
local state = record[R_STATE]
if state ~= 'dead' and state ~= 'canceled' then
  fail('TM_INVALID_STATE', 'id: task "' .. id .. '" is ' .. state .. '; only a dead or canceled task can be retried')
end
if record[R_UNMET] > 0 then
  fail('TM_INVALID_STATE', 'id: task "' .. id .. '" has ' .. record[R_UNMET] ..
    ' dependencies that did not complete; retry those first, it would run without their results')
end
if record[R_HAS_DEPENDENTS] == 1 then
  fail('TM_INVALID_STATE', 'id: task "' .. id .. '" has dependents that settled on its failure;' ..
    ' retrying it alone would not revive them: enqueue the graph again under new ids')
end
-- Out of its retention index (a no-op while its parents' edges still hold it), so no sweep
-- removes it while it runs again.
zset_remove(deadKey, id)
config.deadCount = config.deadCount - 1
record[R_ATTEMPTS] = 0
record[R_LOST] = 0
record[R_NODE] = ''
record[R_ASSIGNED_AT] = 0
record[R_STARTED_AT] = 0
record[R_FINISHED_AT] = 0
record[R_CANCEL_REQUESTED] = 0
record[R_RESULT] = ''
record[R_ERROR] = ''
record[R_REASON] = ''
-- A task canceled before its run-at time keeps its delay; any other goes to ready at its old
-- place (priority, then enqueue order).
make_runnable(id, record)
save_task(id, record)
emit('requeued', id, nil, state)
maintain_if_due(100)
dispatch()
commit()
return record[R_STATE] == 'delayed' and 'delayed' or 'ready'
