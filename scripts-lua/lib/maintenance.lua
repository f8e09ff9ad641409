--- @lib maintenance
--- @include "lib/lifecycle"
-- Housekeeping that no process owns: any script that changes state runs a bounded slice of
-- it, and every live worker runs it with its heartbeat. A round handles at most `limit` items
-- in all, whatever the backlog, so that no call holds Redis for long: the steps take from one
-- budget in order of urgency (tasks held for nodes that are gone, then due tasks, dependents,
-- and last the retention sweep, which only frees memory), and what a round leaves is due at
-- once for the next. A silent node with many tasks is recovered over as many rounds as that
-- takes, and dropped with the last of them. Each step is safe to run from many callers at
-- once, because each call is atomic and re-reads what it acts on.

-- Members per ZREM and HDEL: well below Lua 5.1's limit on unpack().
local DELETE_CHUNK = 1000

local NEVER = 9007199254740991

-- One bounded round of the steps below, then `dueAt` set afresh: now, when the budget ran out
-- or propagation is still pending, else the next item's due time. The steps are defined
-- inside, so their closures are built only by a call that does housekeeping: every EVALSHA
-- runs the whole chunk again, and most calls find nothing due.
local function maintain(limit)
  -- Delayed and retrying tasks whose time has come become ready.
  local function promote_due(limit)
    zset_flush(delayedKey)
    local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, limit)
    for _, id in ipairs(due) do
      local record = load_task(id)
      if record and (record[R_STATE] == 'delayed' or record[R_STATE] == 'retrying') then
        set_state(record, 'ready')
        zset_add(readyKey, ready_score(record), id)
        save_task(id, record)
      end
      zset_remove(delayedKey, id)
    end
    return #due
  end

  -- Assigned or running tasks whose lease ran out go back to ready.
  local function recover_expired(limit)
    zset_flush(leasesKey)
    local expired = redis.call('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, limit)
    for _, id in ipairs(expired) do
      local record = load_task(id)
      if record and (record[R_STATE] == 'assigned' or record[R_STATE] == 'running') then
        recover_task(id, record, 'lease expired on node ' .. record[R_NODE])
      else
        zset_remove(leasesKey, id)
      end
    end
    return #expired
  end

  local function recover_member(member, node_id)
    local id = string.sub(member, #node_id + 2)
    local record = load_task(id)
    if record and record[R_NODE] == node_id and (record[R_STATE] == 'assigned' or record[R_STATE] == 'running') then
      recover_task(id, record, 'node ' .. node_id .. ' stopped sending heartbeats')
    else
      -- An index entry that outlived its task's hold: nothing to recover, just drop it.
      zset_remove(assignedKey, member)
      zset_remove(runningKey, member)
    end
  end

  -- Nodes that missed their heartbeats leave the dispatch rotation; what they held goes back.
  -- `seen` orders nodes by their last heartbeat, so the silent ones are its head. A node is
  -- dropped once it holds nothing: until then it stays registered and silent, so dispatch
  -- passes it over, and the next round goes on with its tasks. Each task and each node dropped
  -- counts one item. Returns the nodes dropped and the items used.
  local function drop_silent_nodes(limit)
    local silent = redis.call('ZRANGEBYSCORE', seenKey, '-inf', '(' .. (now - config.nodeTimeoutMs), 'WITHSCORES', 'LIMIT', 0, limit)
    local dropped, used = 0, 0
    for i = 1, #silent, 2 do
      local node_id = silent[i]
      local node = find_node(node_id)
      if node then
        local left = limit - used
        local held = node_tasks(assignedKey, node_id, left)
        if #held < left then
          for _, member in ipairs(node_tasks(runningKey, node_id, left - #held)) do
            held[#held + 1] = member
          end
        end
        for _, member in ipairs(held) do
          recover_member(member, node_id)
        end
        used = used + #held
        if used >= limit then
          break
        end
        remove_node(node)
        emit('node-lost', nil, node_id, 'no heartbeat for ' .. (now - tonumber(silent[i + 1])) .. ' ms')
        dropped = dropped + 1
      else
        redis.call('ZREM', seenKey, node_id)
      end
      used = used + 1
      if used >= limit then
        break
      end
    end
    return dropped, used
  end

  -- Finished tasks are kept for a time and up to a count, then removed, oldest first.
  local function expired_entries(index_key, keep_ms, keep_count, limit)
    zset_flush(index_key)
    local victims = {}
    if keep_ms > 0 then
      victims = redis.call('ZRANGEBYSCORE', index_key, '-inf', now - keep_ms, 'LIMIT', 0, limit)
    end
    if #victims < limit and keep_count > 0 then
      local excess = redis.call('ZCARD', index_key) - #victims - keep_count
      if excess > 0 then
        victims = redis.call('ZRANGE', index_key, 0, math.min(excess + #victims, limit) - 1)
      end
    end
    return victims
  end

  local function sweep_index(index_key, keep_ms, keep_count, limit)
    local victims = expired_entries(index_key, keep_ms, keep_count, limit)
    if #victims == 0 then
      return 0
    end
    -- The dead index holds dead and canceled tasks, so each victim's own state is uncounted;
    -- proxies (lib/outbox) were never counted.
    local deltas = {}
    for _, id in ipairs(victims) do
      local record = load_task(id)
      if record and not is_proxy(id) then
        deltas[record[R_STATE]] = (deltas[record[R_STATE]] or 0) - 1
      end
      forget_task(id)
    end
    -- unpack() of more than about 8,000 values fails in Lua 5.1, so the deletes go in chunks.
    for i = 1, #victims, DELETE_CHUNK do
      local last = math.min(i + DELETE_CHUNK - 1, #victims)
      redis.call('ZREM', index_key, unpack(victims, i, last))
      redis.call('HDEL', taskKey, unpack(victims, i, last))
      redis.call('HDEL', depsKey, unpack(victims, i, last))
    end
    for state, delta in pairs(deltas) do
      redis.call('HINCRBY', metaKey, 'count:' .. state, delta)
      if state == 'completed' then
        config.completedCount = config.completedCount + delta
      else
        config.deadCount = config.deadCount + delta
      end
    end
    return #victims
  end

  local function sweep(limit)
    local swept = sweep_index(doneKey, config.keepCompletedMs, config.keepCompletedCount, limit)
    if swept < limit then
      swept = swept + sweep_index(deadKey, config.keepDeadMs, config.keepDeadCount, limit - swept)
    end
    return swept
  end

  local function head_score(key)
    zset_flush(key)
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return head[2] and tonumber(head[2]) or NEVER
  end

  -- The earliest time any housekeeping item falls due, read from the heads of the sets that
  -- hold them: a handful of O(log n) reads, paid only by a call that did housekeeping.
  -- The next schedule firing counts too: its time is the meta field `scheduleDueAt`, kept by
  -- the schedule scripts and maintain (lib/schedule), so no other script needs their keys.
  local function next_due_at()
    local due = math.min(head_score(delayedKey), head_score(leasesKey), head_score(seenKey) + config.nodeTimeoutMs)
    local scheduled = redis.call('HGET', metaKey, 'scheduleDueAt')
    if scheduled then
      due = math.min(due, tonumber(scheduled))
    end
    if config.keepCompletedMs > 0 then
      due = math.min(due, head_score(doneKey) + config.keepCompletedMs)
    end
    if config.keepDeadMs > 0 then
      due = math.min(due, head_score(deadKey) + config.keepDeadMs)
    end
    return due
  end

  local report = { promoted = 0, recovered = 0, nodesLost = 0, swept = 0, pendingPropagation = 0, more = 0 }
  if limit > 0 then
    local left = limit
    report.recovered = recover_expired(left)
    left = left - report.recovered
    local used
    if left > 0 then
      report.nodesLost, used = drop_silent_nodes(left)
      left = left - used
    end
    if left > 0 then
      report.promoted = promote_due(left)
      left = left - report.promoted
    end
    -- Settling dependents takes from the round's budget as well as the call's (lib/lifecycle).
    propagation_budget = math.min(propagation_budget, left)
    local granted = propagation_budget
    report.pendingPropagation = propagate()
    left = left - (granted - propagation_budget)
    propagation_pushed = false
    if left > 0 then
      report.swept = sweep(left)
      left = left - report.swept
    end
    config.dueAt = (left <= 0 or report.pendingPropagation > 0) and now or next_due_at()
    due_changed = true
  end
  report.more = housekeeping_due() and 1 or 0
  return report
end

-- Housekeeping for a call that is not only about housekeeping: a round when something is due,
-- else nothing at all.
local function maintain_if_due(limit)
  if housekeeping_due() then
    maintain(limit)
  end
end
