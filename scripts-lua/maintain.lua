--- @script maintain
--- @version 5
--- @summary Runs one bounded round of housekeeping: promotes due tasks, recovers expired leases and silent nodes, settles dependents, sweeps old finished tasks, dispatches.
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
--- @arg limit integer[1,10000]=1000 Most items each step handles in this call.
--- @reply { promoted: integer, recovered: integer, nodesLost: integer, swept: integer, pendingPropagation: integer, more: integer, nextDueAt: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: at most `limit` items per step (due tasks, expired leases, silent nodes, sweeps), then
-- a handful of O(log n) reads to set the next due time.
open_namespace()
local report = maintain(limit)
dispatch()
commit()
return { 'promoted', report.promoted, 'recovered', report.recovered, 'nodesLost', report.nodesLost,
  'swept', report.swept, 'pendingPropagation', report.pendingPropagation, 'more', report.more,
  'nextDueAt', config.dueAt < NEVER and config.dueAt or 0 }
