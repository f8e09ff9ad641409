--- @lib nodes
--- @include "lib/config"
--- @include "lib/buffer"
-- Worker nodes are fields of the `nodes` hash: id -> MessagePack array
-- [weight, capacity, inflight, pass, completed, failed, queues, joinedAt, silent].
-- Two sorted sets index them, so that no call reads every node:
--   free   the nodes with a free slot, in dispatch order (see lib/dispatch): choosing a node
--          for a task reads the head of this set, O(log n).
--   seen   every node by the server time of its last heartbeat: the silent ones are the head.
-- A call decodes only the nodes it touches and writes back only those it changed.
--
-- A node that has not reported in for a third of the node timeout (five missed heartbeats at
-- the Worker's default interval of 1 s against the default timeout of 15 s) is silent: it is
-- still registered and keeps what it holds, but gets no new task. Dispatch finds out when it
-- is about to give the node a task (one ZSCORE of `seen`, once per node and call), takes it
-- out of `free` and stores `silent` in its record; the node's next heartbeat (or start, or
-- register) puts it back. Without this a node that died would be handed tasks until the node
-- timeout dropped it, each one waiting out a lease. A third is also when the timer node is
-- replaced (heartbeat.lua).
local node_cache = {}
local changed_nodes = {}

-- Integer strides keep weighted sequences exact: 720720 is divisible by every weight from 1 to
-- 16 (and by many more), so equal virtual times tie exactly and ties go to the lowest id.
local STRIDE_SCALE = 720720

local function find_node(id)
  local node = node_cache[id]
  if node == nil then
    local packed = redis.call('HGET', nodesKey, id)
    if packed then
      local r = cmsgpack.unpack(packed)
      node = {
        id = id, weight = r[1], capacity = r[2], inflight = r[3], pass = r[4], completed = r[5],
        failed = r[6], queues = r[7], joinedAt = r[8], silent = r[9] == 1,
      }
    else
      node = false
    end
    node_cache[id] = node
  end
  return node or nil
end

local function touch_node(node)
  changed_nodes[node.id] = node
end

-- How far one assignment moves a node along the virtual clock: the inverse of its weight for
-- weighted dispatch, one step for round-robin, an exponential draw for weighted random (the
-- next node is the first "arrival" of independent Poisson clocks, each as fast as its weight).
local function stride(node)
  local strategy = config.strategy
  if strategy == 'weighted' then
    return math.max(1, math.floor(STRIDE_SCALE / node.weight))
  elseif strategy == 'random' then
    return -math.log(1 - math.random()) * STRIDE_SCALE / node.weight
  end
  return 1
end

-- A node's dispatch score: its virtual time, or its load for least-loaded.
local function node_score(node)
  if config.strategy == 'least-loaded' then
    return node.inflight / node.weight
  end
  return node.pass
end

-- The node's place in `free`: there while it has a free slot and is not silent, at its
-- dispatch score.
local function place_node(node)
  if node.removed or node.silent or node.inflight >= node.capacity then
    zset_remove(freeKey, node.id)
  else
    zset_add(freeKey, node_score(node), node.id)
  end
end

-- A node that had no free slot, or was silent, rejoins `free` no earlier than the present
-- virtual time, so the time it spent away does not turn into a burst of catch-up assignments.
local function rejoin(node)
  if node.pass < config.vtime then
    node.pass = config.vtime
  end
end

-- The node reports in: its heartbeat time moves on and, if it was silent, it is back in `free`.
local function mark_seen(node_id)
  redis.call('ZADD', seenKey, now, node_id)
  -- The node is dropped if it stays silent past the timeout: that is housekeeping falling due.
  lower_due(now + config.nodeTimeoutMs)
  local node = find_node(node_id)
  if node then
    node.live = true
    if node.silent then
      node.silent = false
      rejoin(node)
      touch_node(node)
      place_node(node)
    end
  end
end

-- Whether the node has been silent too long to be given a task. Asked by dispatch only, for a
-- node it is about to choose; the answer is kept for the rest of the call.
local function gone_silent(node)
  if node.silent then
    return true
  end
  if node.live == nil then
    local seen_at = redis.call('ZSCORE', seenKey, node.id)
    node.live = seen_at ~= false and tonumber(seen_at) >= now - config.nodeTimeoutMs / 3
  end
  if node.live then
    return false
  end
  node.silent = true
  touch_node(node)
  place_node(node)
  return true
end

local function add_node(node)
  node_cache[node.id] = node
  node.silent = false
  mark_seen(node.id)
  touch_node(node)
  place_node(node)
end

local function remove_node(node)
  node.removed = true
  touch_node(node)
  place_node(node)
  redis.call('ZREM', seenKey, node.id)
  if config.timerNode == node.id then
    config.timerNode = ''
    timer_changed = true
  end
end

local function save_nodes()
  for id, node in pairs(changed_nodes) do
    if node.removed then
      redis.call('HDEL', nodesKey, id)
    else
      -- `silent` is left off (a trailing nil) unless set, so most records keep their size.
      redis.call('HSET', nodesKey, id, cmsgpack.pack({
        node.weight, node.capacity, node.inflight, node.pass, node.completed, node.failed,
        node.queues, node.joinedAt, node.silent and 1 or nil,
      }))
    end
  end
  changed_nodes = {}
end

-- A task is released by its node (completion, failure, loss, hand-back): free the slot.
local function release_slot(node_id)
  local node = find_node(node_id)
  if node and node.inflight > 0 then
    if node.inflight >= node.capacity then
      rejoin(node)
    end
    node.inflight = node.inflight - 1
    touch_node(node)
    place_node(node)
  end
  return node
end

-- A node's entries of the `assigned` or `running` index ("<node>><task>"): one lex range.
local function node_tasks(index_key, node_id, limit)
  zset_flush(index_key)
  return redis.call('ZRANGEBYLEX', index_key, '[' .. node_id .. '>', '[' .. node_id .. '>\255', 'LIMIT', 0, limit)
end

-- The node a worker names in its call; a node dropped for silence must register again.
local function require_node(node_id)
  local node = find_node(node_id)
  if not node then
    fail('TM_UNKNOWN_NODE', 'nodeId: no node "' .. node_id .. '" is registered (dropped for missing heartbeats?): register it again')
  end
  return node
end
