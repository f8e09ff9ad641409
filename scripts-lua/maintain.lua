--- @script maintain
--- @version 7
--- @summary Runs one bounded round of housekeeping: fires due schedules, promotes due tasks, recovers expired leases and silent nodes, settles dependents, sweeps old finished tasks, dispatches.
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
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @arg limit integer[1,250]=250 Most items this call handles over all its steps (a schedule firing, a task promoted, recovered, settled or swept, a node dropped), so that it holds Redis a few ms whatever the backlog.
--- @reply { promoted: integer, recovered: integer, nodesLost: integer, swept: integer, pendingPropagation: integer, more: integer, nextDueAt: integer,
--- @reply   fired: integer, refill: string[] }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
--- @include "lib/schedule-firing"
-- Cost: at most `limit` items in all (schedule firings, expired leases, silent nodes and their
-- tasks, due tasks, dependents, sweeps), 4 to 16 µs each on a two-core machine, so a round of 250
-- holds Redis 1 to 4 ms. A firing measured 16 µs when each of 200 schedules fired once (its
-- record read and written, its index entry moved, its task created), 9.5 µs when one schedule
-- caught up 200 firings; then a handful of O(log n) reads to set the next due time, and dispatch (at most 200
-- tasks, lib/dispatch).
-- Firing first: a due firing is the most punctual item there is, and each firing is one item
-- of the budget. `refill` names the cron schedules whose stored times run low: the caller
-- computes more and calls refill-schedule (client/schedules.ts).
open_namespace()
local used, fired, refill = fire_schedules(limit)
-- Only a call that handled schedules changed `schedule-due`; the others leave its copy alone.
local next_firing = used > 0 and sync_schedule_due()
local report = maintain(limit - used)
if next_firing then
  lower_due(next_firing)
end
dispatch()
commit()
-- Read after dispatch, which leaves housekeeping due when it stopped at its own limit.
return { 'promoted', report.promoted, 'recovered', report.recovered, 'nodesLost', report.nodesLost,
  'swept', report.swept, 'pendingPropagation', report.pendingPropagation, 'more', housekeeping_due() and 1 or 0,
  'nextDueAt', config.dueAt < NEVER and config.dueAt or 0, 'fired', fired, 'refill', refill }
