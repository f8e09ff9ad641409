--- @script clean-tasks
--- @version 1
--- @summary Removes up to a limit of finished tasks that finished before a time, oldest first; the caller calls again while more are left.
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
--- @arg state enum(completed|dead|canceled|finished) Which finished tasks: one state, or all three.
--- @arg olderThanMs integer[0,9007199254740991] Only tasks that finished at least this many ms ago (server time).
--- @arg limit integer[1,1000]=100 At most this many tasks looked at in this call.
--- @arg skip integer[0,9007199254740991]=0 Dead or canceled tasks to pass over first: the sum of the passed counts of the earlier calls of one clean (the dead index holds both states).
--- @reply [removed: integer, passed: integer, more: integer]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/removal"
-- Cost: O(log T + skip + limit): the retention indexes read by finish time, each task looked at
-- read and removed. skip grows only when state is dead or canceled, by the tasks of the other
-- state in the range. Held tasks (lib/removal) are not in the indexes and are left alone.
open_namespace()
local cutoff = now - olderThanMs
local removed, passed, left = 0, 0, limit

local function clean_index(index_key, ids)
  left = left - #ids
  for _, task_id in ipairs(ids) do
    local record = load_task(task_id)
    if not record then
      -- An index entry that outlived its task: nothing to count.
      zset_remove(index_key, task_id)
    elseif state == 'finished' or record[R_STATE] == state then
      remove_retained(task_id, record, index_key)
      removed = removed + 1
    else
      passed = passed + 1
    end
  end
end

if state == 'completed' or state == 'finished' then
  clean_index(doneKey, redis.call('ZRANGEBYSCORE', doneKey, '-inf', cutoff, 'LIMIT', 0, left))
end
if left > 0 and state ~= 'completed' then
  local offset = state == 'finished' and 0 or skip
  clean_index(deadKey, redis.call('ZRANGEBYSCORE', deadKey, '-inf', cutoff, 'LIMIT', offset, left))
end
commit()
return { removed, passed, left == 0 and 1 or 0 }
