--- @lib dispatch
--- @include "lib/nodes"
--- @include "lib/counts"
--- @include "lib/events"
--- @include "lib/buffer"
-- Dispatch: ready tasks are assigned to worker nodes with free capacity, inside the very
-- script that made a task ready or a slot free, so no dispatcher process exists.
--
-- The strategy (meta `strategy`) picks one node per task among the eligible ones: nodes with
-- a free slot that serve the task's queue (a node with no queue list serves every queue).
--   round-robin   the next eligible node after the last one chosen (meta `rrCursor`), in id order.
--   weighted      smooth weighted round-robin, as nginx does it: every eligible node gains its
--                 weight, the node with the highest running total wins (ties: lowest id) and
--                 pays back the sum of the eligible weights. For a=5, b=1, c=1 that gives
--                 a a b a c a a, so shares follow the weights at every point, not just on
--                 average. The running totals are the nodes' `swrr` fields.
--   least-loaded  the lowest inflight/weight ratio; ties go round-robin from `rrCursor`.
--   random        weighted random among the eligible nodes.
-- An assignment writes the task's node and a fresh fencing token, indexes it in `assigned`
-- (member "<node>><task>", so a node's tasks are one lexicographic range) and `leases`, and
-- rings the node's doorbell: an entry in the `dispatch` stream that blocked workers wake on.
local DOORBELL_LENGTH = 1000
-- How far down the ready queue one call looks for tasks whose queue some free node serves:
-- past the free slots by a margin, and never more than one full batch.
local DISPATCH_SCAN_EXTRA = 100
local DISPATCH_SCAN_MAX = 5100

local doorbells = {}
local rr_cursor_changed = false
-- Set by a node's own call (complete with a claim): tasks dispatch gives that node start at
-- once instead of waiting in `assigned` for a start call, which saves a record write, two
-- index updates and a round trip per task. { node = id, budget = n, started = reply rows }.
local direct_start = nil

local function serves(node, queue)
  return node.inflight < node.capacity and (node.queueSet == nil or node.queueSet[queue] == true)
end

local function next_in_turn(candidates)
  -- candidates are in id order; the first one after the cursor wins, wrapping around.
  for _, node in ipairs(candidates) do
    if node.id > config.rrCursor then
      return node
    end
  end
  return candidates[1]
end

local function pick_node(queue)
  local eligible = {}
  for _, node in ipairs(nodes) do
    if serves(node, queue) then
      eligible[#eligible + 1] = node
    end
  end
  if #eligible == 0 then
    return nil
  end
  local strategy = config.strategy
  local chosen
  if strategy == 'round-robin' then
    chosen = next_in_turn(eligible)
  elseif strategy == 'weighted' then
    local total = 0
    for _, node in ipairs(eligible) do
      node.swrr = node.swrr + node.weight
      total = total + node.weight
      if chosen == nil or node.swrr > chosen.swrr then
        chosen = node
      end
      touch_node(node)
    end
    chosen.swrr = chosen.swrr - total
  elseif strategy == 'least-loaded' then
    local best = nil
    local tied = {}
    for _, node in ipairs(eligible) do
      local load = node.inflight / node.weight
      if best == nil or load < best then
        best = load
        tied = { node }
      elseif load == best then
        tied[#tied + 1] = node
      end
    end
    chosen = next_in_turn(tied)
  else
    local total = 0
    for _, node in ipairs(eligible) do
      total = total + node.weight
    end
    local ticket = math.random() * total
    for _, node in ipairs(eligible) do
      ticket = ticket - node.weight
      chosen = node
      if ticket < 0 then
        break
      end
    end
  end
  if config.rrCursor ~= chosen.id then
    config.rrCursor = chosen.id
    rr_cursor_changed = true
  end
  return chosen
end

-- Assigned -> running on the node that holds the task: the attempt counts from here, and
-- the lease restarts. Returns the row a worker needs to run it.
local function start_task(id, record, node_id)
  set_state(record, 'running')
  record[R_ATTEMPTS] = record[R_ATTEMPTS] + 1
  record[R_STARTED_AT] = now
  save_task(id, record)
  zset_add(runningKey, 0, node_id .. '>' .. id)
  zset_add(leasesKey, now + record[R_LEASE_MS], id)
  emit('started', id, node_id, tostring(record[R_ATTEMPTS]))
  return { id, record[R_TOKEN], record[R_ATTEMPTS], record[R_PAYLOAD], record[R_QUEUE] }
end

local function assign(id, record, node)
  record[R_NODE] = node.id
  record[R_TOKEN] = record[R_TOKEN] + 1
  record[R_ASSIGNED_AT] = now
  node.inflight = node.inflight + 1
  touch_node(node)
  emit('assigned', id, node.id, tostring(record[R_TOKEN]))
  if direct_start and direct_start.node == node.id and direct_start.budget > 0 then
    direct_start.budget = direct_start.budget - 1
    direct_start.started[#direct_start.started + 1] = start_task(id, record, node.id)
    return
  end
  set_state(record, 'assigned')
  save_task(id, record)
  zset_add(assignedKey, 0, node.id .. '>' .. id)
  zset_add(leasesKey, now + record[R_LEASE_MS], id)
  doorbells[node.id] = true
end

local function free_slots()
  local free = 0
  for _, node in ipairs(load_nodes()) do
    if node.capacity > node.inflight then
      free = free + node.capacity - node.inflight
    end
  end
  return free
end

-- Assigns ready tasks, highest priority first, until no node has a free slot.
local function dispatch()
  local free = free_slots()
  if free == 0 then
    return 0
  end
  zset_flush(readyKey)
  local ids = redis.call('ZRANGE', readyKey, 0, math.min(free + DISPATCH_SCAN_EXTRA, DISPATCH_SCAN_MAX) - 1)
  local taken = 0
  for _, id in ipairs(ids) do
    local record = load_task(id)
    local node = pick_node(record[R_QUEUE])
    if node then
      zset_remove(readyKey, id)
      assign(id, record, node)
      taken = taken + 1
      free = free - 1
      if free == 0 then
        break
      end
    end
  end
  return taken
end

-- Ends a state-changing call: writes back what was gathered in Lua (task records, index
-- changes, nodes, counts) and wakes the nodes that got work.
local function commit()
  flush_tasks()
  zset_flush(readyKey)
  zset_flush(delayedKey)
  zset_flush(leasesKey)
  zset_flush(assignedKey)
  zset_flush(runningKey)
  zset_flush(doneKey)
  zset_flush(deadKey)
  flush_counts()
  save_nodes()
  if rr_cursor_changed then
    redis.call('HSET', metaKey, 'rrCursor', config.rrCursor)
    rr_cursor_changed = false
  end
  for node_id in pairs(doorbells) do
    redis.call('XADD', dispatchKey, 'MAXLEN', '~', DOORBELL_LENGTH, '*', 'node', node_id)
  end
  doorbells = {}
end
