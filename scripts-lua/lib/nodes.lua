--- @lib nodes
--- @include "lib/config"
--- @include "lib/buffer"
-- Worker nodes are fields of the `nodes` hash: id -> MessagePack array
-- [weight, capacity, inflight, swrr, completed, failed, queues, joinedAt, lastSeenAt].
-- A call loads them all once (there are few nodes and dispatch needs every one of them),
-- changes them in Lua and writes back only the ones it changed.
local nodes = nil
local node_by_id = {}
local changed_nodes = {}

local function parse_queues(list)
  if list == '' then
    return nil
  end
  local set = {}
  for name in string.gmatch(list, '[^,]+') do
    set[name] = true
  end
  return set
end

local function load_nodes()
  if nodes then
    return nodes
  end
  nodes = {}
  local flat = redis.call('HGETALL', nodesKey)
  for i = 1, #flat, 2 do
    local r = cmsgpack.unpack(flat[i + 1])
    local node = {
      id = flat[i], weight = r[1], capacity = r[2], inflight = r[3], swrr = r[4],
      completed = r[5], failed = r[6], queues = r[7], joinedAt = r[8], lastSeenAt = r[9],
    }
    node.queueSet = parse_queues(node.queues)
    nodes[#nodes + 1] = node
    node_by_id[node.id] = node
  end
  -- Sorted by id so that round-robin order and weighted tie-breaks are reproducible.
  table.sort(nodes, function(a, b) return a.id < b.id end)
  return nodes
end

local function find_node(id)
  load_nodes()
  return node_by_id[id]
end

local function touch_node(node)
  changed_nodes[node.id] = node
end

local function add_node(node)
  load_nodes()
  node.queueSet = parse_queues(node.queues)
  if not node_by_id[node.id] then
    nodes[#nodes + 1] = node
    table.sort(nodes, function(a, b) return a.id < b.id end)
  end
  node_by_id[node.id] = node
  touch_node(node)
end

local function remove_node(node)
  node.removed = true
  node_by_id[node.id] = nil
  for i, n in ipairs(nodes) do
    if n.id == node.id then
      table.remove(nodes, i)
      break
    end
  end
  touch_node(node)
end

local function save_nodes()
  for id, node in pairs(changed_nodes) do
    if node.removed then
      redis.call('HDEL', nodesKey, id)
    else
      redis.call('HSET', nodesKey, id, cmsgpack.pack({
        node.weight, node.capacity, node.inflight, node.swrr, node.completed, node.failed,
        node.queues, node.joinedAt, node.lastSeenAt,
      }))
    end
  end
  changed_nodes = {}
end

-- A task is released by its node (completion, failure, loss, hand-back): free the slot.
local function release_slot(node_id)
  local node = find_node(node_id)
  if node and node.inflight > 0 then
    node.inflight = node.inflight - 1
    touch_node(node)
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
