--- @lib dispatch
--- @include "lib/nodes"
--- @include "lib/counts"
--- @include "lib/events"
--- @include "lib/buffer"
-- Dispatch: ready tasks are assigned to worker nodes with free capacity, inside the very
-- script that made a task ready or a slot free, so no dispatcher process exists.
--
-- Every strategy is the same mechanism: the nodes with a free slot sit in the `free` sorted
-- set, scored so that the head is the next node to get a task (ties: lowest id), and a task
-- goes to the first node of that order that serves its queue (a node with no queue list
-- serves every queue). Choosing a node costs O(log n) whatever the number of nodes.
--   weighted      stride scheduling: a node's score is its virtual time (`pass`), and each
--                 task it gets moves it on by 720720 / weight, so a node of weight 5 is chosen
--                 five times as often as one of weight 1. A node joins half a stride after the
--                 namespace's virtual time (meta `vtime`, the time of the last choice), and a
--                 full node rejoins no earlier than that time. Weights 5, 1, 1 (a, b, c) give
--                 a a a b c a a, repeated; 5, 3, 1 give a b a a b c a b a. Counts never stray
--                 more than about one task from the weights' shares at any point.
--   round-robin   the same with a stride of one: nodes in turn, in id order.
--   least-loaded  the score is inflight / weight: the least loaded node first.
--   random        weighted random: the stride is an exponential draw divided by the weight,
--                 so each node is a Poisson clock as fast as its weight and the next task goes
--                 to the first to tick; the chance of each node is weight / total weight.
-- An assignment writes the task's node and a fresh fencing token, indexes it in `assigned`
-- (member "<node>><task>", so a node's tasks are one lexicographic range) and `leases`, and
-- wakes that node alone: a message on its shard channel `tm:{<namespace>}:wake:<node>`.
--
-- A call keeps the head of `free` in Lua (a window of WINDOW nodes and the score of the first
-- node past it) and chooses among those until the best of them would fall behind the node
-- past the window; only then does it write the window back and read the next one. A batch of
-- tasks therefore costs a few reads of `free` and one write per node that got work.
local WINDOW = 16
-- Free nodes looked at past the window for a task whose queue no node in the window serves.
local NODE_SCAN_MAX = 256
-- Ready tasks read per ZRANGE, and how many a call may pass over (no free node serves their
-- queue) before it stops looking.
local READY_CHUNK = 64
local READY_SKIP_MAX = 100

local wakes = {}
-- Meta fields a call changed, written with one HSET when it commits.
local seq_changed = false
local vtime_changed = false
-- Set by a node's own call (complete with a claim): tasks dispatch gives that node start at
-- once instead of waiting in `assigned` for a start call, which saves a record write, two
-- index updates and a round trip per task. { node = id, budget = n, started = reply rows }.
local direct_start = nil

-- Assigned -> running on the node that holds the task: the attempt counts from here, and
-- the lease restarts. Returns the row a worker needs to run it.
local function start_task(id, record, node_id)
  set_state(record, 'running')
  record[R_ATTEMPTS] = record[R_ATTEMPTS] + 1
  record[R_STARTED_AT] = now
  save_task(id, record)
  zset_add(runningKey, 0, node_id .. '>' .. id)
  zset_add(leasesKey, now + record[R_LEASE_MS], id)
  lower_due(now + record[R_LEASE_MS])
  emit('started', id, node_id, tostring(record[R_ATTEMPTS]))
  return { id, record[R_TOKEN], record[R_ATTEMPTS], record[R_PAYLOAD], record[R_QUEUE] }
end

-- Assigns ready tasks, highest priority first, until no node has a free slot. The ready set
-- is read in chunks; removals are buffered, so offsets stay valid while it is walked. The
-- node-choosing functions are built inside, and only when something is ready: most calls
-- find the ready set empty, and every EVALSHA builds the chunk's closures again.
local function dispatch()
  -- Tasks this call made ready are still in the write buffer. When the stored ready set is
  -- empty and they are few, they are all the ready tasks there are: dispatch them from the
  -- buffer, and those assigned never touch the set (no ZADD now and ZREM at commit).
  local buffered = zset_writes[readyKey]
  local direct = nil
  local ids = {}
  if buffered then
    for member, score in pairs(buffered) do
      if score then
        ids[#ids + 1] = member
      end
    end
    if #ids > 0 and #ids <= READY_CHUNK and redis.call('EXISTS', readyKey) == 0 then
      table.sort(ids, function(a, b) return buffered[a] < buffered[b] end)
      direct = buffered
    end
  end
  if not direct then
    zset_flush(readyKey)
    ids = redis.call('ZRANGE', readyKey, 0, READY_CHUNK - 1)
  end
  if #ids == 0 then
    return 0
  end
  local window = nil

  local function serves(node, queue)
    if node.queues == '' then
      return true
    end
    local set = node.queueSet
    if not set then
      set = {}
      for name in string.gmatch(node.queues, '[^,]+') do
        set[name] = true
      end
      node.queueSet = set
    end
    return set[queue] == true
  end

  local function ahead(score_a, id_a, score_b, id_b)
    return score_a < score_b or (score_a == score_b and id_a < id_b)
  end

  -- The window: the head of `free` as entries { id, score, node } in dispatch order, each
  -- node's record read only when its entry is looked at, so a task costs one node read, not
  -- one per node in the window. `nextId`/`nextScore` is the first node past the window.
  local function open_window()
    zset_flush(freeKey)
    local flat = redis.call('ZRANGE', freeKey, 0, WINDOW, 'WITHSCORES')
    window = { entries = {}, moved = {}, fresh = true }
    for i = 1, math.min(#flat / 2, WINDOW) do
      window.entries[i] = { id = flat[2 * i - 1], score = tonumber(flat[2 * i]) }
    end
    if #flat > 2 * WINDOW then
      window.nextId = flat[2 * WINDOW + 1]
      window.nextScore = tonumber(flat[2 * WINDOW + 2])
    end
  end

  -- Writes back the places of the nodes that got work.
  local function close_window()
    for _, node in ipairs(window.moved) do
      node.moved = nil
      place_node(node)
    end
    window = nil
  end

  -- A task whose queue no node of the window serves: the first free node past the window that
  -- serves it, looking at no more than NODE_SCAN_MAX of them.
  local function scan_past_window(queue)
    local offset = WINDOW
    while offset < WINDOW + NODE_SCAN_MAX do
      local ids = redis.call('ZRANGE', freeKey, offset, offset + WINDOW - 1)
      for _, id in ipairs(ids) do
        local node = find_node(id)
        if node and serves(node, queue) and not gone_silent(node) then
          return node
        end
      end
      if #ids < WINDOW then
        return nil
      end
      offset = offset + WINDOW
    end
    return nil
  end

  -- The node the strategy gives the next task of `queue` and its place in the window (nil
  -- when it came from past the window), or nil; `full` when no node has a free slot at all.
  local function pick_node(queue)
    if not window then
      open_window()
    end
    for _ = 1, 2 do
      local entries = window.entries
      local i = 1
      while i <= #entries do
        local entry = entries[i]
        if window.nextId and not ahead(entry.score, entry.id, window.nextScore, window.nextId) then
          break
        end
        if entry.node == nil then
          entry.node = find_node(entry.id) or false
        end
        if entry.node and serves(entry.node, queue) then
          if not gone_silent(entry.node) then
            return entry.node, i
          end
          -- Silent (lib/nodes): out of `free` until its next heartbeat, so out of the window.
          table.remove(entries, i)
        else
          i = i + 1
        end
      end
      if window.nextId == nil then
        return nil, nil, #entries == 0
      end
      if window.fresh then
        return scan_past_window(queue)
      end
      -- The window is used up: write it back and read the head of `free` again.
      close_window()
      open_window()
    end
    return nil
  end

  -- After an assignment: the node's entry leaves the window when the node is full, or moves
  -- to its new place in dispatch order.
  local function reorder(i, node)
    local entries = window.entries
    local entry = table.remove(entries, i)
    if node.inflight >= node.capacity then
      return
    end
    entry.score = node_score(node)
    local at = i
    while at <= #entries and ahead(entries[at].score, entries[at].id, entry.score, entry.id) do
      at = at + 1
    end
    table.insert(entries, at, entry)
  end

  local function assign(id, record, node)
    record[R_NODE] = node.id
    record[R_TOKEN] = record[R_TOKEN] + 1
    record[R_ASSIGNED_AT] = now
    if config.strategy ~= 'least-loaded' then
      if node.pass > config.vtime then
        config.vtime = node.pass
        vtime_changed = true
      end
      node.pass = node.pass + stride(node)
    end
    node.inflight = node.inflight + 1
    touch_node(node)
    if not node.moved then
      node.moved = true
      window.moved[#window.moved + 1] = node
    end
    window.fresh = false
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
    lower_due(now + record[R_LEASE_MS])
    wakes[node.id] = true
  end
  local taken, skipped, offset = 0, 0, 0
  local unserved = {}
  local no_free_node = false
  while true do
    for _, id in ipairs(ids) do
      local record = load_task(id)
      if not record then
        zset_remove(readyKey, id)
      elseif unserved[record[R_QUEUE]] then
        skipped = skipped + 1
      else
        local node, place, full = pick_node(record[R_QUEUE])
        if full then
          no_free_node = true
          break
        end
        if node then
          if direct then
            direct[id] = nil
          else
            zset_remove(readyKey, id)
          end
          assign(id, record, node)
          if place then
            reorder(place, node)
          end
          taken = taken + 1
        else
          unserved[record[R_QUEUE]] = true
          skipped = skipped + 1
        end
      end
      if skipped >= READY_SKIP_MAX then
        break
      end
    end
    if direct or no_free_node or #ids < READY_CHUNK or skipped >= READY_SKIP_MAX then
      break
    end
    offset = offset + READY_CHUNK
    ids = redis.call('ZRANGE', readyKey, offset, offset + READY_CHUNK - 1)
  end
  if window then
    close_window()
  end
  return taken
end

-- Ends a state-changing call: writes back what was gathered in Lua (task records, index
-- changes, nodes, counts, the namespace's clocks) and wakes the nodes that got work.
local function commit()
  flush_tasks()
  zset_flush(readyKey)
  zset_flush(delayedKey)
  zset_flush(leasesKey)
  zset_flush(assignedKey)
  zset_flush(runningKey)
  zset_flush(doneKey)
  zset_flush(deadKey)
  zset_flush(freeKey)
  flush_counts()
  save_nodes()
  flush_events()
  local meta = {}
  if seq_changed then
    meta[#meta + 1] = 'seq'
    meta[#meta + 1] = config.seq
    seq_changed = false
  end
  if vtime_changed then
    meta[#meta + 1] = 'vtime'
    meta[#meta + 1] = config.vtime
    vtime_changed = false
  end
  if due_changed then
    meta[#meta + 1] = 'dueAt'
    meta[#meta + 1] = config.dueAt
  end
  if timer_changed then
    meta[#meta + 1] = 'timerNode'
    meta[#meta + 1] = config.timerNode
    timer_changed = false
  end
  if #meta > 0 then
    redis.call('HSET', metaKey, unpack(meta))
  end
  for node_id in pairs(wakes) do
    redis.call('SPUBLISH', wakeKey .. node_id, 'work')
  end
  wakes = {}
  -- The timer node sleeps until the due time it was last told; an earlier one must wake it.
  if due_lowered and config.timerNode ~= '' and config.dueAt > now then
    redis.call('SPUBLISH', wakeKey .. config.timerNode, 'due')
  end
  due_changed, due_lowered = false, false
end
