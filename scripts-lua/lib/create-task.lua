--- @lib create-task
--- @include "lib/lifecycle"
-- What every way of creating a task shares: enqueue (a batch from a producer) and a schedule's
-- firing (maintain). A new task takes the namespace's next sequence number, so it is FIFO
-- within its priority whoever created it.

-- The record of a new task, in lib/record's field order; `unmet` counts the dependencies it
-- waits on and `has_children` says whether tasks of the same call wait on it.
local function new_task_record(task, unmet, has_children)
  config.seq = config.seq + 1
  seq_changed = true
  local run_at = task.runAt
  if run_at == 0 then
    run_at = now + task.delayMs
  end
  local record = {
    '', task.priority, config.seq, task.queue, task.maxAttempts, task.backoff, task.backoffMs,
    task.backoffCapMs, task.leaseMs, task.onDependencyFailure, unmet, has_children,
    now, run_at, 0, 0, '', 0, 0, 0, 0, 0, task.payload, '', '', '',
  }
  if task.group and task.group ~= '' then
    record[R_GROUP] = task.group
  end
  return record
end

-- A task of a named queue may wait behind tasks no free node serves: keep `ready-by-queue`.
local function note_queue(queue)
  if not config.queueFilters and queue ~= 'default' then
    config.queueFilters = true
    redis.call('HSET', metaKey, 'queueFilters', 1)
  end
end

-- A task of a group: from now on dispatch keeps the groups' indexes (lib/dispatch, Groups).
local function note_group(group)
  if not config.groups and group and group ~= '' then
    config.groups = true
    redis.call('HSET', metaKey, 'groups', 1)
  end
end
