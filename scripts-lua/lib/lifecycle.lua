--- @lib lifecycle
--- @include "lib/dispatch"
-- The transitions every script shares, and the dependency state machine.
--
-- A task is `waiting` while some dependency has not completed (`R_UNMET` counts them), then
-- `delayed` until its run-at time or `ready`; dispatch makes it `assigned`, the worker's start
-- makes it `running`; it ends `completed`, `dead` or `canceled` (a failure with attempts
-- left passes through `retrying`, which waits in `delayed` for its backoff).
--
-- Dependencies are edges "<parent>><child>" in the `edges` sorted set (all scores 0), so a
-- parent's children are one lexicographic range that can be read in slices. When a task
-- ends, an entry "<outcome> <id>" goes on the `propagation` list, and propagation works
-- through that list within a budget of edges per call: a parent with 100,000 children is
-- settled over many short calls instead of one that blocks Redis. A child whose parent
-- completed loses one unmet dependency; a child whose parent died or was canceled either dies
-- too ("dependency failed", and so on down the graph) or, with onDependencyFailure=run,
-- counts that parent as settled.
local PROPAGATION_BUDGET = 1000
-- A task that keeps taking its worker down with it is not retried without end.
local MAX_LOST = 10

local propagation_budget = PROPAGATION_BUDGET
local propagation_pushed = false

-- Waiting -> delayed or ready, by run-at time.
local function make_runnable(id, record)
  if record[R_RUN_AT] > now then
    set_state(record, 'delayed')
    zset_add(delayedKey, record[R_RUN_AT], id)
    lower_due(record[R_RUN_AT])
  else
    set_state(record, 'ready')
    zset_add(readyKey, ready_score(record), id)
  end
end

-- Drops an assigned or running task's lease and index entry and frees its node's slot.
local function release_hold(id, record)
  if record[R_STATE] == 'running' then
    zset_remove(runningKey, record[R_NODE] .. '>' .. id)
  else
    zset_remove(assignedKey, record[R_NODE] .. '>' .. id)
  end
  zset_remove(leasesKey, id)
  return release_slot(record[R_NODE])
end

-- A finished task is swept after keep_ms, or once more than keep_count are kept. The count
-- may overshoot by a hundredth before a sweep is due, so that a namespace at its cap sweeps
-- in slices instead of one task per completion.
local function retention_due(keep_ms, keep_count, count)
  if keep_ms > 0 then
    lower_due(now + keep_ms)
  end
  if keep_count > 0 and count > keep_count + math.floor(keep_count / 100) then
    lower_due(now)
  end
end

-- Ends a task for good: completed, dead or canceled. Dependents are settled by propagation.
local function finish_task(id, record, state, reason)
  set_state(record, state)
  record[R_FINISHED_AT] = now
  if reason then
    record[R_REASON] = reason
  end
  save_task(id, record)
  if state == 'completed' then
    zset_add(doneKey, now, id)
    config.completedCount = config.completedCount + 1
    retention_due(config.keepCompletedMs, config.keepCompletedCount, config.completedCount)
  else
    zset_add(deadKey, now, id)
    config.deadCount = config.deadCount + 1
    retention_due(config.keepDeadMs, config.keepDeadCount, config.deadCount)
  end
  if record[R_HAS_DEPENDENTS] == 1 then
    redis.call('RPUSH', propagationKey, (state == 'completed' and 'c ' or 'f ') .. id)
    propagation_pushed = true
  end
  emit(state, id, record[R_NODE], reason)
end

local function settle_child(child_id, parent_completed)
  local record = load_task(child_id)
  -- A child that was canceled or swept meanwhile has nothing left to wait for.
  if not record or record[R_STATE] ~= 'waiting' then
    return
  end
  if parent_completed or record[R_ON_DEPENDENCY_FAILURE] == 'run' then
    record[R_UNMET] = record[R_UNMET] - 1
    if record[R_UNMET] <= 0 then
      make_runnable(child_id, record)
    end
    save_task(child_id, record)
  else
    finish_task(child_id, record, 'dead', 'dependency failed')
  end
end

-- Works through the propagation list until it is empty or the budget is spent.
-- Returns how many parents are still waiting to be propagated.
local function propagate()
  while propagation_budget > 0 do
    local entry = redis.call('LINDEX', propagationKey, 0)
    if not entry then
      return 0
    end
    local parent_completed = string.sub(entry, 1, 1) == 'c'
    local parent = string.sub(entry, 3)
    local edges = redis.call('ZRANGEBYLEX', edgesKey, '[' .. parent .. '>', '[' .. parent .. '>\255',
      'LIMIT', 0, propagation_budget)
    local prefix_length = #parent + 2
    for _, edge in ipairs(edges) do
      settle_child(string.sub(edge, prefix_length), parent_completed)
    end
    if #edges > 0 then
      redis.call('ZREM', edgesKey, unpack(edges))
    end
    propagation_budget = propagation_budget - #edges
    if propagation_budget > 0 then
      redis.call('LPOP', propagationKey)
    end
  end
  return redis.call('LLEN', propagationKey)
end

-- Settles the dependents of the tasks this call finished; what the budget leaves over is
-- housekeeping, due at once.
local function settle_dependents()
  if propagation_pushed then
    propagation_pushed = false
    if propagate() > 0 then
      lower_due(now)
    end
  end
end

-- Takes a task away from the node holding it; a started attempt that will not finish there is
-- not counted.
local function unhold(id, record)
  release_hold(id, record)
  if record[R_STATE] == 'running' then
    record[R_ATTEMPTS] = record[R_ATTEMPTS] - 1
  end
end

-- Back in the ready queue at its old place: priority first, then enqueue order.
local function requeue(id, record, event, detail)
  set_state(record, 'ready')
  zset_add(readyKey, ready_score(record), id)
  save_task(id, record)
  emit(event, id, record[R_NODE], detail)
end

-- A held task whose node vanished or whose lease ran out goes back to ready. A task that was
-- running counts a lost attempt, apart from handler failures, so a crash does not use up a
-- retry, and MAX_LOST of them end a task that keeps taking its worker down. A task that was
-- only assigned never ran: nothing is counted, however often it comes back (a node that died
-- before starting its tasks must not kill them).
local function recover_task(id, record, why)
  if record[R_STATE] == 'assigned' then
    unhold(id, record)
    requeue(id, record, 'recovered', why)
    return
  end
  unhold(id, record)
  record[R_LOST] = record[R_LOST] + 1
  record[R_ERROR] = why
  if record[R_CANCEL_REQUESTED] == 1 then
    finish_task(id, record, 'canceled', 'canceled')
  elseif record[R_LOST] >= MAX_LOST then
    finish_task(id, record, 'dead', 'lost ' .. MAX_LOST .. ' times: ' .. why)
  else
    requeue(id, record, 'recovered', why)
  end
end

-- A node gives a task back on graceful shutdown: it runs again elsewhere, and neither an
-- attempt nor a loss is counted.
local function hand_back(id, record)
  unhold(id, record)
  requeue(id, record, 'released', nil)
end
