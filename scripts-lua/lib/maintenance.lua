--- @lib maintenance
--- @include "lib/lifecycle"
-- Housekeeping that no process owns: any script that changes state runs a bounded slice of
-- it, and every live worker runs it with its heartbeat. Each step takes at most `limit`
-- items per call and is safe to run from many callers at once, because each call is atomic
-- and re-reads what it acts on.

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
local function drop_silent_nodes(limit)
  local dropped = 0
  local deadline = now - config.nodeTimeoutMs
  -- Collect first: removing while iterating would skip entries.
  local silent = {}
  for _, node in ipairs(load_nodes()) do
    if node.lastSeenAt < deadline then
      silent[#silent + 1] = node
    end
  end
  for _, node in ipairs(silent) do
    for _, member in ipairs(node_tasks(assignedKey, node.id, limit)) do
      recover_member(member, node.id)
    end
    for _, member in ipairs(node_tasks(runningKey, node.id, limit)) do
      recover_member(member, node.id)
    end
    remove_node(node)
    emit('node-lost', nil, node.id, 'no heartbeat for ' .. (now - node.lastSeenAt) .. ' ms')
    dropped = dropped + 1
  end
  return dropped
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
  -- The dead index holds dead and canceled tasks, so each victim's own state is uncounted.
  local deltas = {}
  for _, id in ipairs(victims) do
    local record = load_task(id)
    if record then
      deltas[record[R_STATE]] = (deltas[record[R_STATE]] or 0) - 1
    end
    forget_task(id)
  end
  redis.call('ZREM', index_key, unpack(victims))
  redis.call('HDEL', taskKey, unpack(victims))
  redis.call('HDEL', depsKey, unpack(victims))
  for state, delta in pairs(deltas) do
    redis.call('HINCRBY', metaKey, 'count:' .. state, delta)
  end
  return #victims
end

local function sweep(limit)
  return sweep_index(doneKey, config.keepCompletedMs, config.keepCompletedCount, limit)
    + sweep_index(deadKey, config.keepDeadMs, config.keepDeadCount, limit)
end

local function next_due_at()
  zset_flush(delayedKey)
  local head = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if head[2] then
    return tonumber(head[2])
  end
  return 0
end

-- One bounded round of everything above. Returns the work still pending (propagation
-- entries plus a hint whether more was due than one round took).
local function maintain(limit)
  local report = {
    promoted = promote_due(limit),
    recovered = recover_expired(limit),
    nodesLost = drop_silent_nodes(limit),
    swept = sweep(limit),
  }
  report.pendingPropagation = propagate()
  report.more = (report.promoted == limit or report.recovered == limit or report.swept >= limit
    or report.pendingPropagation > 0) and 1 or 0
  return report
end
