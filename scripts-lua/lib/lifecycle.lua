--- @lib lifecycle
--- @include "lib/dispatch"
--- @include "lib/outbox"
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
-- settled over many short calls instead of one that blocks Redis (the entry then carries the
-- last child settled, "<outcome> <id> <child>", and the next slice goes on after it). A child
-- whose parent completed loses one unmet dependency; a child whose parent died or was
-- canceled either dies too ("dependency failed", and so on down the graph) or, with
-- onDependencyFailure=run, counts that parent as settled.
--
-- Retention and dependents. A dependent reads its parents' results while it runs
-- (dependency-results), so a finished parent must outlive its unfinished dependents, however
-- short the retention. An edge therefore stays in `edges` until its child has finished, not
-- only until the parent settled it, and a finished task enters its retention index (`done` or
-- `dead`, which is all that sweeps read) only when it has no edge left to a child and none
-- left to a parent. No call scans for this:
--   - a task that finishes with no dependents and no parents is retained at once, as before;
--   - a task that finishes with dependents is held; its propagation, when done, retains it
--     if no edge to a child is left (one ZRANGEBYLEX ... LIMIT 0 1);
--   - a task that finishes with edges to its parents removes them, one ZREM per parent from
--     its `deps` list, and retains each parent that it was the last to hold (the same one-edge
--     look-up), then itself. That work comes out of the propagation budget; what the budget
--     leaves goes on the list as "r <id> <position>" and later calls go on from there.
-- A held task keeps its finish time as its score, so once retained it is swept by the same
-- rules as any other. A dependent enqueued after its parent finished adds no edge and does not
-- hold the parent. Held tasks count towards `count:<state>`, so a namespace over its count cap
-- only through held tasks runs a sweep round per finished task that removes nothing.
--
-- A dependency on a task of another partition is an edge to a proxy of that task here, and an
-- edge from that task to "/<partition>" there (lib/outbox): propagation settles both kinds.
-- Edges settled or released per call: about 10 µs each (a dependent's record read and written).
local PROPAGATION_BUDGET = 250
-- A task that keeps taking its worker down with it is not retried without end.
local MAX_LOST = 10

local propagation_budget = PROPAGATION_BUDGET
local propagation_pushed = false
-- The task whose children propagation is settling: it is retained, if at all, when that is done.
local propagating = nil

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

-- A finished task is swept keep_ms after it finished, or once more than keep_count are kept.
-- The count may overshoot by a hundredth before a sweep is due, so that a namespace at its cap
-- sweeps in slices instead of one task per completion.
local function retention_due(finished_at, keep_ms, keep_count, count)
  if keep_ms > 0 then
    lower_due(finished_at + keep_ms)
  end
  if keep_count > 0 and count > keep_count + math.floor(keep_count / 100) then
    lower_due(now)
  end
end

-- The finished task enters its retention index, scored by its finish time or by `at`, the time
-- it is to count as finished for retention (an early proxy, lib/outbox).
local function retain(id, record, at)
  local finished_at = at or record[R_FINISHED_AT]
  if record[R_STATE] == 'completed' then
    zset_add(doneKey, finished_at, id)
    retention_due(finished_at, config.keepCompletedMs, config.keepCompletedCount, config.completedCount)
  else
    zset_add(deadKey, finished_at, id)
    retention_due(finished_at, config.keepDeadMs, config.keepDeadCount, config.deadCount)
  end
end

local function has_children(id)
  return #redis.call('ZRANGEBYLEX', edgesKey, '[' .. id .. '>', '[' .. id .. '>\255', 'LIMIT', 0, 1) > 0
end

-- Retains a held task once nothing holds it any more: it has finished, released its parents
-- and has no edge to a child left. Called when one of those may just have become true.
local function retain_if_unheld(id)
  local record = load_task(id)
  if not record or record[R_HOLDS_PARENTS] == 1 then
    return
  end
  local state = record[R_STATE]
  if state ~= 'completed' and state ~= 'dead' and state ~= 'canceled' then
    return
  end
  -- Only a task that ever had a dependent can have an edge to a child.
  if record[R_HAS_DEPENDENTS] ~= 1 or not has_children(id) then
    retain(id, record)
  end
end

-- A finished task lets go of its parents: the edge to each one goes, and a parent no other
-- dependent holds is retained. Goes on after the first `from` parents of its `deps` list;
-- returns where to go on from when the propagation budget ran out, or nil when it is done
-- (the task itself is then retained if nothing else holds it).
local function release_parents(id, from)
  local position = 0
  for parent in string.gmatch(redis.call('HGET', depsKey, id) or '', '[^,]+') do
    position = position + 1
    if position > from then
      if propagation_budget <= 0 then
        return position - 1
      end
      propagation_budget = propagation_budget - 1
      if redis.call('ZREM', edgesKey, parent .. '>' .. id) == 1 and parent ~= propagating then
        retain_if_unheld(parent)
      end
    end
  end
  local record = load_task(id)
  if record then
    record[R_HOLDS_PARENTS] = nil
    save_task(id, record)
    retain_if_unheld(id)
  end
  return nil
end

-- Ends a task for good: completed, dead or canceled. Dependents are settled by propagation;
-- the task is retained now, or once its dependents and its parents let go of it (above).
local function finish_task(id, record, state, reason)
  set_state(record, state)
  record[R_FINISHED_AT] = now
  if reason then
    record[R_REASON] = reason
  end
  save_task(id, record)
  if state == 'completed' then
    config.completedCount = config.completedCount + 1
    totals.completed = totals.completed + 1
  else
    config.deadCount = config.deadCount + 1
  end
  if record[R_HAS_DEPENDENTS] == 1 then
    redis.call('RPUSH', propagationKey, (state == 'completed' and 'c ' or 'f ') .. id)
    propagation_pushed = true
  end
  if record[R_UNMET] > 0 or record[R_HOLDS_PARENTS] == 1 then
    record[R_HOLDS_PARENTS] = 1
    local rest = release_parents(id, 0)
    if rest then
      redis.call('RPUSH', propagationKey, 'r ' .. id .. ' ' .. rest)
      propagation_pushed = true
    end
  elseif record[R_HAS_DEPENDENTS] ~= 1 then
    retain(id, record)
  end
  emit(state, id, record[R_NODE], reason)
end

-- A proxy (lib/outbox) takes the outcome of the task it stands for, and its children are settled
-- like those of a finished task. Unlike finish_task nothing is counted and no event written: a
-- proxy is not a task of this partition.
local function settle_proxy(id, record, state, result)
  record[R_STATE] = state
  record[R_RESULT] = result
  record[R_FINISHED_AT] = now
  save_task(id, record)
  if record[R_HAS_DEPENDENTS] == 1 then
    redis.call('RPUSH', propagationKey, (state == 'completed' and 'c ' or 'f ') .. id)
    propagation_pushed = true
  else
    retain(id, record)
  end
end

local function settle_child(child_id, parent_completed)
  local record = load_task(child_id)
  -- A child that was canceled or swept meanwhile has nothing left to wait for.
  if not record or record[R_STATE] ~= 'waiting' then
    return
  end
  -- The edge stays until the child finishes (see the note above).
  record[R_HOLDS_PARENTS] = 1
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

-- Works through the propagation list until it is empty or the budget is spent: "c <id>" and
-- "f <id>" settle the children of a task that completed or failed, "r <id> <position>" goes on
-- releasing a finished task's parents. Returns how many entries are still waiting.
local function propagate()
  while propagation_budget > 0 do
    local entry = redis.call('LINDEX', propagationKey, 0)
    if not entry then
      return 0
    end
    local kind, id, after = string.match(entry, '^(%a) ([^ ]+) ?(.*)$')
    if kind == 'r' then
      local rest = release_parents(id, tonumber(after) or 0)
      if rest then
        redis.call('LSET', propagationKey, 0, 'r ' .. id .. ' ' .. rest)
      else
        redis.call('LPOP', propagationKey)
      end
    else
      local limit = propagation_budget
      local first = after == '' and ('[' .. id .. '>') or ('(' .. id .. '>' .. after)
      local edges = redis.call('ZRANGEBYLEX', edgesKey, first, '[' .. id .. '>\255', 'LIMIT', 0, limit)
      local prefix_length = #id + 2
      propagating = id
      for _, edge in ipairs(edges) do
        local child = string.sub(edge, prefix_length)
        if string.sub(child, 1, 1) == '/' then
          settle_remote_edge(id, edge, string.sub(child, 2))
        else
          settle_child(child, kind == 'c')
        end
      end
      propagating = nil
      propagation_budget = propagation_budget - #edges
      if #edges == limit then
        -- Maybe more children: the next slice starts after the last one settled.
        redis.call('LSET', propagationKey, 0, kind .. ' ' .. id .. ' ' .. string.sub(edges[#edges], prefix_length))
      else
        redis.call('LPOP', propagationKey)
        retain_if_unheld(id)
      end
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
-- attempt nor a loss is counted. A task whose cancel was requested while it ran ends canceled
-- instead, as it does when its lease is lost.
local function hand_back(id, record)
  unhold(id, record)
  if record[R_CANCEL_REQUESTED] == 1 then
    finish_task(id, record, 'canceled', 'canceled')
  else
    requeue(id, record, 'released', nil)
  end
end
