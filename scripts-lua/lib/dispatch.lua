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
--
-- Queues. Tasks are taken from the head of `ready` (priority, then enqueue order), and a
-- call passes over at most READY_SKIP_MAX tasks that no free node serves before it stops, so
-- that a backlog nobody serves costs each call a bounded look, not a scan. A task behind such
-- a backlog would then wait however idle the node of its queue. So `ready-by-queue` holds
-- every ready task a second time, as "<queue>><score>><task>" (all scores 0, the score
-- zero-padded to 16 digits): a queue's ready tasks are one lexicographic range, best first, and
-- the next one is a ZRANGEBYLEX ... LIMIT away, O(log n) whatever the backlog. It is written
-- from the `ready` write buffer when that is flushed (flush_ready), so a task dispatched in the
-- call that made it ready touches neither set. When a call stops at the skip limit with nodes
-- still free, it looks up at most QUEUE_LOOKUPS queues in it: those of the node that made the
-- call (its slot just came free: complete, fail, heartbeat, register-node), those of the free
-- nodes of the window, those of the tasks the call itself made ready, and, when one of those
-- free nodes serves every queue, the queues found in `ready-by-queue` itself (at most
-- 2 * QUEUE_LOOKUPS jumps from one queue's range to the next, passing over the unserved); it takes at most
-- QUEUE_CHUNK tasks from each, best first across queues. A node further down `free` finds the
-- tasks of its queues at its next heartbeat. The alternative, a cursor that walks on through
-- `ready` from call to call, is bounded per call but needs backlog / READY_SKIP_MAX calls to
-- reach a task; the index costs one more ZADD and ZREM member per task that waits in `ready`
-- (about 90 bytes while it waits) and nothing for one dispatched at once. It is kept only once
-- the namespace uses queues (meta `queueFilters`: the first task of a queue other than
-- `default`, or the first node with a queue list): while every task is of `default` and every
-- node serves it, no task can wait behind tasks nobody serves. Tasks already ready when the
-- flag is set are not in the index; they are found through `ready` as before.
--
-- Paused queues (meta `pausedQueues`, written by pause-queue and resume-queue). A task of a
-- paused queue counts as one no free node serves: it stays `ready` and in both sets, it counts
-- toward READY_SKIP_MAX, and its queue is never one of the QUEUE_LOOKUPS, so a paused backlog
-- at the head of `ready` costs a call the same bounded look as any backlog nobody serves, and
-- the tasks of other queues behind it are reached through `ready-by-queue`. Tasks already
-- assigned or running are not touched: they finish as usual. Pausing sets `queueFilters`, so
-- every task that becomes ready from then on is indexed. The limit that remains: tasks that
-- were ready before the namespace first used queues (or paused one) are not in the index, so
-- behind a paused backlog of more than READY_SKIP_MAX tasks they wait until the backlog is
-- resumed or leaves `ready`; the same holds for any backlog nobody serves. A namespace with no
-- paused queue pays one more HMGET field and nothing else. resume-queue dispatches at once,
-- and looks the resumed queue up in `ready-by-queue` (dispatch's `wanted`) should its tasks sit
-- behind more than READY_SKIP_MAX others.
--
-- Rate limits (meta `rateLimits`, "<queue>=<max>/<intervalMs>,...", written by set-rate-limit
-- and remove-rate-limit). A limited queue may have at most `max` tasks started in any window of
-- `intervalMs` on the server clock: a sliding log, so no burst can double the rate the way a
-- token bucket refilled at the edge of a window can. The log is the meta field `rate:<queue>`, a
-- packed array of (time, count) pairs, oldest first; an assignment is allowed while the counts
-- of the pairs later than now - intervalMs add up to less than `max`, and logs the task at now,
-- which reserves its place; when the node starts it (start_task), the place moves to the start
-- time. A place only ever moves later, so it stays in every window it was counted in: the
-- starts in a window never exceed `max` as long as each task starts within an interval of its
-- assignment (a node stopped longer is the exception). Each assignment is logged
-- at its time rounded up to a grain of intervalMs / 100 (at least 1 ms), so the log never holds
-- more than about 200 pairs whatever `max` is: rounding up keeps an assignment in the window
-- longer than it was, never shorter, so the limit holds, at a cost of at most one grain (1 % of
-- the interval) of throughput. The log is read (one HGET) only by a call about to assign a task
-- of a limited queue, and written once at commit: reading, pruning and writing it back measured
-- about 4 µs for a log of 10 pairs (a queue started in bursts) and 66 µs for a full one of 200
-- pairs (starts in every hundredth of the interval), on a two-core machine. A queue that has used its allowance is served
-- by no node for the rest of the call, as a paused queue, and the call lowers the namespace's
-- due time to the moment its next task may start: the timer node's maintain dispatches then, and
-- no process polls. Every round of housekeeping sets `dueAt` afresh, and every call that runs one
-- dispatches after it, so a queue still held lowers it again. A namespace with no limit pays one
-- more HMGET field.
--
-- Groups (enqueue's `group`, weights by set-group-weight). Within a queue, the slots that the
-- order of `ready` gives to tasks with a group are shared between the groups with ready tasks
-- by the groups' weights, with the stride scheduling nodes use: each group of a queue has a
-- pass (meta `gp:<queue>><group>`), a task given to the group moves it on by 720720 / weight
-- (meta `gw:<queue>><group>`, default 1), and the next slot goes to the group of the lowest
-- pass (ties: the lower name, or the group of the task that met the slot). Such a task stays in `ready`, where it holds its place, and is
-- indexed twice more in `ready-by-queue`: as "\1<queue>><group>><score>><task>", so a group's
-- best task (priority, then enqueue order) is one lexicographic range, and its group's turn as
-- "\2<queue>><pass>><group>" (the pass zero-padded to 16 digits), so the group whose turn it
-- is in a queue is the head of another range. When the walk through `ready` (or the queue
-- lookups) meets a ready task of a group, that slot goes to the best task of the group whose
-- turn it is, which may be this task or one far behind it in `ready`: a group's backlog of a
-- million cannot hold back a group of ten by more than its share. When the task met is its
-- group's best and its group's pass is the lowest (a tie with the turn at the head), it takes
-- the slot itself, with no look-up: while the groups' passes are level, as with many groups of
-- equal weight, that is most slots. A group that gets a ready
-- task while it has no turn joins at the queue's virtual time (meta `gvt:<queue>`, the pass of
-- the last group served), so an idle group comes first at once but cannot make up for the time
-- it had no work. A group whose turn comes with no ready task left leaves the turns then. A
-- call keeps the head of a queue's turns in Lua (TURN_WINDOW of them and the first past them, as
-- it keeps the head of `free`) and writes the turns it moved back with one ZREM and one ZADD;
-- a group's tasks are read one first, then QUEUE_CHUNK at a time. So a task given out this way
-- costs a share of the turns' reads and writes, one HGET of its group's pass when the group is
-- not in the window, and, when the slot goes to another group, a ZRANGEBYLEX LIMIT for that
-- group's head: O(log n) whatever the number of groups or tasks (bench/group-dispatch.ts). A
-- group's weight is read only in a namespace where some group has one (meta `weightedGroups`,
-- kept by set-group-weight). A namespace that never had a task with a
-- group pays one more HMGET field (meta `groups`, set by the first one) and nothing else.
local WINDOW = 16
-- Free nodes looked at past the window for a task whose queue no node in the window serves.
local NODE_SCAN_MAX = 256
-- Ready tasks read per ZRANGE, and how many a call may pass over (no free node serves their
-- queue) before it stops looking.
local READY_CHUNK = 64
local READY_SKIP_MAX = 100
-- Queues looked up in `ready-by-queue` by a call that stopped at the skip limit, and tasks
-- read from each.
local QUEUE_LOOKUPS = 16
local QUEUE_CHUNK = 16
-- Tasks one call assigns at most (about 10 µs each), so that a node of large capacity joining a
-- backlog, or many slots freed at once, does not make one long call. When a call stops here with
-- tasks ready, housekeeping is due at once, and its rounds (maintain) dispatch the rest.
local DISPATCH_MAX = 200
-- Turns of a queue's groups a call keeps in Lua (see Groups above). Every call that meets a task
-- with a group reads and parses this many, so it stays small: a larger window saves reads only
-- in calls that serve many groups, and costs every call.
local TURN_WINDOW = 16
-- Reads of turns a call makes past groups at their concurrency cap, before it gives up looking.
local HELD_TURN_PAGES = 4

local wakes = {}
-- Meta fields a call changed, written with one HSET when it commits.
local seq_changed = false
local vtime_changed = false
-- Set by a node's own call (complete with a claim): tasks dispatch gives that node start at
-- once instead of waiting in `assigned` for a start call, which saves a record write, two
-- index updates and a round trip per task. { node = id, budget = n, started = reply rows }.
local direct_start = nil
-- Rate-limit logs read by this call, by queue: { log = {time, count, ...}, sum = n, limit, changed }.
local rate_windows = {}
-- Groups read or served by this call (see Groups above): passes and weights by
-- "<queue>><group>" (a pass of false: no turn), queues' virtual times by queue, and which of
-- the passes and virtual times changed.
local group_passes, group_weights, group_vtimes, group_changed = {}, {}, {}, {}

local function group_pass(key)
  local pass = group_passes[key]
  if pass == nil then
    pass = tonumber(redis.call('HGET', metaKey, 'gp:' .. key)) or false
    group_passes[key] = pass
  end
  return pass
end

local function group_vtime(queue)
  local vtime = group_vtimes[queue]
  if vtime == nil then
    vtime = tonumber(redis.call('HGET', metaKey, 'gvt:' .. queue)) or 0
    group_vtimes[queue] = vtime
  end
  return vtime
end

-- Passes spelled for turns, by pass: groups of equal weight share few passes, so a call that
-- moves many turns formats each pass once.
local pass_texts = {}

local function group_turn(queue, pass, group)
  local text = pass_texts[pass]
  if not text then
    text = string.format('%016.0f', pass)
    pass_texts[pass] = text
  end
  return '\2' .. queue .. '>' .. text .. '>' .. group
end

-- A group with a task just made ready takes a turn, unless it has one.
local function group_join(queue, group)
  local key = queue .. '>' .. group
  if not group_pass(key) then
    local pass = group_vtime(queue)
    group_passes[key] = pass
    group_changed['gp:' .. key] = true
    zset_add(readyByQueueKey, 0, group_turn(queue, pass, group))
  end
end

-- A limited queue's log, read at most once per call, without the pairs that left the window.
local function rate_window(queue, limit)
  local w = rate_windows[queue]
  if not w then
    local packed = redis.call('HGET', metaKey, 'rate:' .. queue)
    local stored = packed and cmsgpack.unpack(packed) or {}
    w = { log = {}, sum = 0, limit = limit, changed = false }
    local after = now - limit.interval
    for i = 1, #stored - 1, 2 do
      if stored[i] > after then
        w.log[#w.log + 1] = stored[i]
        w.log[#w.log + 1] = stored[i + 1]
        w.sum = w.sum + stored[i + 1]
      end
    end
    rate_windows[queue] = w
  end
  w.limit = limit
  return w
end

-- The time the oldest pairs leave the window so that one more assignment fits.
local function rate_opens_at(w)
  local excess, dropped = w.sum - w.limit.max + 1, 0
  for i = 1, #w.log - 1, 2 do
    dropped = dropped + w.log[i + 1]
    if dropped >= excess then
      return w.log[i] + w.limit.interval
    end
  end
  return now + w.limit.interval
end

local function rate_count(w)
  local grain = math.max(1, math.floor(w.limit.interval / 100))
  local at = math.ceil(now / grain) * grain
  local n = #w.log
  if n > 0 and w.log[n - 1] == at then
    w.log[n] = w.log[n] + 1
  else
    w.log[n + 1] = at
    w.log[n + 2] = 1
  end
  w.sum = w.sum + 1
  w.changed = true
end

-- A task of a limited queue starts: the place dispatch reserved in the log at its assignment
-- moves to now, so the log holds when tasks started, not when they were given out (see Rate
-- limits above). Without a reservation to move (the limit came later, or the assignment has
-- left the window), the start is logged all the same.
local function rate_move_to_start(w, assigned_at)
  local grain = math.max(1, math.floor(w.limit.interval / 100))
  local reserved = math.ceil(assigned_at / grain) * grain
  if reserved == math.ceil(now / grain) * grain then
    return
  end
  for i = #w.log - 1, 1, -2 do
    if w.log[i] == reserved then
      if w.log[i + 1] > 1 then
        w.log[i + 1] = w.log[i + 1] - 1
      else
        table.remove(w.log, i + 1)
        table.remove(w.log, i)
      end
      w.sum = w.sum - 1
      break
    elseif w.log[i] < reserved then
      break
    end
  end
  rate_count(w)
end

-- Assigned -> running on the node that holds the task: the attempt counts from here, and
-- the lease restarts. Returns the row a worker needs to run it.
local function start_task(id, record, node_id)
  local limit = config.limits and config.limits[record[R_QUEUE]]
  if limit and record[R_ASSIGNED_AT] < now then
    rate_move_to_start(rate_window(record[R_QUEUE], limit), record[R_ASSIGNED_AT])
  end
  set_state(record, 'running')
  record[R_ATTEMPTS] = record[R_ATTEMPTS] + 1
  record[R_STARTED_AT] = now
  -- Progress belongs to an attempt: the new one starts without (lib/record).
  record[R_PROGRESS] = nil
  save_task(id, record)
  zset_add(runningKey, 0, node_id .. '>' .. id)
  zset_add(leasesKey, now + record[R_LEASE_MS], id)
  lower_due(now + record[R_LEASE_MS])
  emit('started', id, node_id, tostring(record[R_ATTEMPTS]))
  return { id, record[R_TOKEN], record[R_ATTEMPTS], record[R_PAYLOAD], record[R_QUEUE] }
end

-- Writes out the buffered changes of `ready`, and the same changes to `ready-by-queue`. Every
-- task added to or removed from `ready` has its record loaded in the call; the score of a task
-- never changes while it is ready, so its member can be spelled again to remove it.
local function flush_ready()
  local writes = zset_writes[readyKey]
  -- Only a namespace that uses queues can starve one, so only there is the index kept (meta
  -- `queueFilters`, set by the first task of a named queue or node with a queue list).
  -- Tasks with a group are indexed by group as well (see Groups above).
  if writes and (config.queueFilters or config.groups) then
    for id, score in pairs(writes) do
      local record = load_task(id)
      if record then
        local scored = string.format('%016.0f', ready_score(record)) .. '>' .. id
        if config.queueFilters then
          local member = record[R_QUEUE] .. '>' .. scored
          if score then
            zset_add(readyByQueueKey, 0, member)
          else
            zset_remove(readyByQueueKey, member)
          end
        end
        local group = record[R_GROUP]
        if group then
          local member = '\1' .. record[R_QUEUE] .. '>' .. group .. '>' .. scored
          if score then
            zset_add(readyByQueueKey, 0, member)
            group_join(record[R_QUEUE], group)
          else
            zset_remove(readyByQueueKey, member)
          end
        end
      end
    end
  end
  zset_flush(readyKey)
  zset_flush(readyByQueueKey)
end

-- Assigns ready tasks, highest priority first, until no node has a free slot. The ready set
-- is read in chunks; removals are buffered, so offsets stay valid while it is walked. The
-- node-choosing functions are built inside, and only when something is ready: most calls
-- find the ready set empty, and every EVALSHA builds the chunk's closures again. `caller` is
-- the id of the node making the call, when a node makes it (see Queues above); `wanted` a queue
-- to look up first should the call stop at the skip limit (resume-queue).
local function dispatch(caller, wanted)
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
    -- Tasks with a group take turns (see Groups above), so they never go out from the buffer.
    local grouped = false
    if config.groups then
      for _, id in ipairs(ids) do
        local record = load_task(id)
        if record and record[R_GROUP] then
          grouped = true
          break
        end
      end
    end
    if #ids > 0 and #ids <= READY_CHUNK and not grouped and redis.call('EXISTS', readyKey) == 0 then
      table.sort(ids, function(a, b) return buffered[a] < buffered[b] end)
      direct = buffered
    end
  end
  if not direct then
    flush_ready()
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
  -- A paused queue is served by no node (see Paused queues above).
  if config.paused then
    for queue in pairs(config.paused) do
      unserved[queue] = true
    end
  end
  local no_free_node = false
  local capped = false

  -- Gives the ready task to the node the strategy picks for its queue; false when no node has
  -- a free slot at all, or the call has assigned all it may.
  local function try_assign(id, record)
    if taken >= DISPATCH_MAX then
      capped = true
      return false
    end
    local queue = record[R_QUEUE]
    local rate = config.limits and config.limits[queue]
    if rate then
      rate = rate_window(queue, rate)
      if rate.sum >= rate.limit.max then
        -- Held by its limit: served by no node for the rest of the call (see Rate limits above).
        unserved[queue] = true
        lower_due(rate_opens_at(rate))
        return true
      end
    end
    local node, place, full = pick_node(queue)
    if full then
      no_free_node = true
      return false
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
      if rate then
        rate_count(rate)
      end
      taken = taken + 1
    else
      unserved[record[R_QUEUE]] = true
    end
    return true
  end

  -- Each group's next tasks in `ready-by-queue` read by this call, by "<queue>><group>":
  -- { members, at }; members before `at` went out in this call.
  local group_heads = {}

  -- The best ready task of a group, or nil.
  local function group_head(queue, group)
    local key = queue .. '>' .. group
    local head = group_heads[key]
    while true do
      if head and head.at <= #head.members then
        local member = head.members[head.at]
        local id = string.sub(member, #queue + #group + 21)
        local record = load_task(id)
        if record and record[R_STATE] == 'ready' then
          return id, record, head
        end
        -- An entry that outlived its task's stay in `ready`.
        zset_remove(readyByQueueKey, member)
        head.at = head.at + 1
      else
        if head and #head.members < head.want then
          return nil
        end
        local prefix = '\1' .. key .. '>'
        local from = head and ('(' .. head.members[#head.members]) or ('[' .. prefix)
        -- A group's first read takes one task: with many groups, a call gives most of them one.
        local want = head and QUEUE_CHUNK or 1
        head = { members = redis.call('ZRANGEBYLEX', readyByQueueKey, from, '[' .. prefix .. '\255', 'LIMIT', 0, want), at = 1, want = want }
        group_heads[key] = head
        if #head.members == 0 then
          return nil
        end
      end
    end
  end

  -- Groups at their concurrency cap (lib/counts), by "<queue>><group>": passed over for the rest
  -- of the call, since nothing it does frees a slot of theirs.
  local held_groups = {}
  local function group_held(key)
    if held_groups[key] then
      return true
    end
    local cap = group_cap(key)
    if cap and group_inflight(key) >= cap then
      held_groups[key] = true
      return true
    end
    return false
  end

  -- The head of a queue's turns, kept in Lua like the window of `free`: TURN_WINDOW turns in
  -- order, { pass, group, member } (member: as stored, nil for a turn not stored yet), and the
  -- first turn past them. A group served moves to its new place in the window; once the head
  -- would fall behind the turn past the window, the window is written back and read again.
  local turn_windows = {}

  local function turn_ahead(a, b)
    return a.pass < b.pass or (a.pass == b.pass and a.group < b.group)
  end

  local function parse_turn(member, prefix)
    return { pass = tonumber(string.sub(member, #prefix + 1, #prefix + 16)), group = string.sub(member, #prefix + 18), member = member }
  end

  local function close_turns(queue, w)
    local removes, adds = {}, {}
    for _, entry in pairs(w.moved) do
      if entry.member then
        removes[#removes + 1] = entry.member
      end
      if entry.pass then
        entry.member = group_turn(queue, entry.pass, entry.group)
        adds[#adds + 1] = 0
        adds[#adds + 1] = entry.member
      end
    end
    w.moved = {}
    if #removes > 0 then
      redis.call('ZREM', readyByQueueKey, unpack(removes))
    end
    if #adds > 0 then
      redis.call('ZADD', readyByQueueKey, unpack(adds))
    end
  end

  -- Turns of groups at their cap are left out, the window read on past them, at most
  -- HELD_TURN_PAGES reads: a call that meets more held groups than that at the head of the turns
  -- finds no turn past them, and gives the slots to the tasks it meets in `ready` instead.
  local function open_turns(queue)
    local prefix = '\2' .. queue .. '>'
    -- in_window: the groups of `entries`, so that a group past the window costs no scan.
    local w = { entries = {}, moved = {}, in_window = {} }
    local from = '[' .. prefix
    local caps = any_group_caps()
    for _ = 1, HELD_TURN_PAGES do
      local members = redis.call('ZRANGEBYLEX', readyByQueueKey, from, '[' .. prefix .. '\255', 'LIMIT', 0, TURN_WINDOW + 1)
      for _, member in ipairs(members) do
        local entry = parse_turn(member, prefix)
        if not (caps and group_held(queue .. '>' .. entry.group)) then
          if #w.entries < TURN_WINDOW then
            w.entries[#w.entries + 1] = entry
            w.in_window[entry.group] = true
          else
            w.past = entry
            break
          end
        end
      end
      if w.past or #members <= TURN_WINDOW then
        break
      end
      from = '(' .. members[#members]
    end
    turn_windows[queue] = w
    return w
  end

  -- The turn whose group comes next in `queue`, or nil when the queue has none.
  local function next_turn(queue)
    local w = turn_windows[queue] or open_turns(queue)
    local head = w.entries[1]
    if w.past and (not head or not turn_ahead(head, w.past)) then
      close_turns(queue, w)
      w = open_turns(queue)
      head = w.entries[1]
    end
    return head, w
  end

  -- Whether any group of the namespace has a weight other than 1 (meta `weightedGroups`, kept by
  -- set-group-weight), read once per call: without one, serving a group reads no weight.
  local weighted_groups = nil

  -- A task given to `group`, whose pass was `pass`: the queue's virtual time follows it, and the
  -- group's pass moves on by its stride. Returns the new pass.
  local function advance_group(queue, group, pass)
    local key = queue .. '>' .. group
    if pass > group_vtime(queue) then
      group_vtimes[queue] = pass
      group_changed['gvt:' .. queue] = true
    end
    local weight = group_weights[key]
    if weight == nil then
      if weighted_groups == nil then
        weighted_groups = (tonumber(redis.call('HGET', metaKey, 'weightedGroups')) or 0) > 0
      end
      weight = weighted_groups and tonumber(redis.call('HGET', metaKey, 'gw:' .. key)) or 1
      group_weights[key] = weight
    end
    pass = pass + math.max(1, math.floor(STRIDE_SCALE / weight))
    group_passes[key] = pass
    group_changed['gp:' .. key] = true
    return pass
  end

  -- A turn back in the window, at its (new) place: looked for from the back, where a group just
  -- served mostly goes.
  local function reinsert_turn(w, turn)
    local at = #w.entries + 1
    while at > 1 and turn_ahead(turn, w.entries[at - 1]) do
      at = at - 1
    end
    table.insert(w.entries, at, turn)
  end

  -- The tasks of each group ("<queue>><group>") the walk through `ready` met in this call.
  local met_by_group = {}

  -- The task that met a slot takes it itself when it is its group's best ready task and its
  -- group's pass is the lowest of the queue (a tie with the turn at the head of the window): the
  -- choice stride scheduling makes, reached without a look-up of the group's head, which is
  -- what keeps many groups about as cheap as one while their passes are level. Returns nil when
  -- it may not, else what try_assign returns.
  local function serve_met_task(queue, id, record, head_turn, w)
    local group = record[R_GROUP]
    local key = queue .. '>' .. group
    if group_held(key) then
      return nil
    end
    -- This task is the group's best only when every task of the group met before it went out.
    -- met_by_group holds the last task met while all before it went out, or, once one was
    -- passed over still ready, the tasks met since then in order and the first that may still
    -- be ready (most groups meet one task a call: no table for them).
    local met = met_by_group[key]
    if met == nil or met == id then
      met_by_group[key] = id
    elseif type(met) == 'string' then
      local earlier = load_task(met)
      if earlier and earlier[R_STATE] == 'ready' then
        met_by_group[key] = { met, id, at = 1 }
        return nil
      end
      met_by_group[key] = id
    else
      if met[#met] ~= id then
        met[#met + 1] = id
      end
      while met[met.at] ~= id do
        local earlier = load_task(met[met.at])
        if earlier and earlier[R_STATE] == 'ready' then
          return nil
        end
        met.at = met.at + 1
      end
    end
    local at, entry = nil, nil
    if w.in_window[group] then
      for i, candidate in ipairs(w.entries) do
        if candidate.group == group then
          at, entry = i, candidate
          break
        end
      end
    end
    local pass = entry and entry.pass or (not entry and group_pass(key))
    if not pass or pass > head_turn.pass then
      return nil
    end
    local before = taken
    local ok = try_assign(id, record)
    if ok and taken > before then
      local moved_to = advance_group(queue, group, pass)
      if entry then
        table.remove(w.entries, at)
        entry.pass = moved_to
        w.moved[group] = entry
        reinsert_turn(w, entry)
      else
        -- A turn past the window: it moves further on, written back with the window's.
        local moved = w.moved[group]
        if not moved then
          moved = { group = group, member = group_turn(queue, pass, group) }
          w.moved[group] = moved
        end
        moved.pass = moved_to
      end
    end
    return ok
  end

  -- A slot for a task of `queue` with a group: it goes to the group whose turn it is. `id` is
  -- the task that met the slot, given the slot itself should the queue have no turns. Returns
  -- what try_assign returns, and true as well when the slot went to nobody because the task's
  -- group is at its cap and no other group has a turn.
  local function serve_group_turn(queue, id, record)
    local head_turn, head_window = next_turn(queue)
    if head_turn then
      local served = serve_met_task(queue, id, record, head_turn, head_window)
      if served ~= nil then
        return served
      end
    end
    while true do
      local turn, w = next_turn(queue)
      -- A group that reached its cap since the window was read goes out of it; its turn stays
      -- where it is stored.
      while turn and group_held(queue .. '>' .. turn.group) do
        table.remove(w.entries, 1)
        w.in_window[turn.group] = nil
        turn, w = next_turn(queue)
      end
      if not turn then
        if group_held(queue .. '>' .. record[R_GROUP]) then
          return true, true
        end
        return try_assign(id, record)
      end
      local group = turn.group
      local task_id, task, head = group_head(queue, group)
      table.remove(w.entries, 1)
      w.moved[group] = turn
      if task_id then
        local before = taken
        local ok = try_assign(task_id, task)
        if ok and taken > before then
          head.at = head.at + 1
          turn.pass = advance_group(queue, group, turn.pass)
        end
        reinsert_turn(w, turn)
        return ok
      end
      -- The group has no ready task left: it leaves the turns.
      turn.pass = nil
      w.in_window[group] = nil
      group_passes[queue .. '>' .. group] = false
      group_changed['gp:' .. queue .. '>' .. group] = true
    end
  end

  while true do
    for _, id in ipairs(ids) do
      local record = load_task(id)
      if not record then
        zset_remove(readyKey, id)
      elseif unserved[record[R_QUEUE]] then
        skipped = skipped + 1
      elseif record[R_GROUP] and config.groups then
        -- A task that went out earlier in this call, through its group's turn, is passed over.
        if record[R_STATE] == 'ready' then
          local ok, passed_over = serve_group_turn(record[R_QUEUE], id, record)
          if not ok then
            break
          elseif passed_over or unserved[record[R_QUEUE]] then
            skipped = skipped + 1
          end
        end
      elseif not try_assign(id, record) then
        break
      elseif unserved[record[R_QUEUE]] then
        skipped = skipped + 1
      end
      if skipped >= READY_SKIP_MAX then
        break
      end
    end
    if direct or no_free_node or capped or #ids < READY_CHUNK or skipped >= READY_SKIP_MAX then
      break
    end
    offset = offset + READY_CHUNK
    ids = redis.call('ZRANGE', readyKey, offset, offset + READY_CHUNK - 1)
  end
  if skipped >= READY_SKIP_MAX and not no_free_node and not capped then
    -- Built only here, like the node-choosing functions above: most calls never get this far.
    -- After the skip limit: the queues worth a look in `ready-by-queue`, at most QUEUE_LOOKUPS.
    local function queues_to_look_up()
      local queues, listed = {}, {}
      local function add(queue)
        if #queues < QUEUE_LOOKUPS and not listed[queue] and not unserved[queue] then
          listed[queue] = true
          queues[#queues + 1] = queue
        end
      end
      local serves_all = false
      local function add_node_queues(node)
        if node and not node.silent and node.inflight < node.capacity then
          if node.queues == '' then
            serves_all = true
          end
          for queue in string.gmatch(node.queues, '[^,]+') do
            add(queue)
          end
        end
      end
      if wanted then
        add(wanted)
      end
      if caller then
        add_node_queues(find_node(caller))
      end
      if window then
        for _, entry in ipairs(window.entries) do
          add_node_queues(entry.node)
        end
      end
      -- The tasks this call made ready (kept in `buffered` after the flush).
      local looked = 0
      for id, score in pairs(buffered or {}) do
        looked = looked + 1
        if looked > READY_CHUNK or #queues >= QUEUE_LOOKUPS then
          break
        end
        local record = score and load_task(id)
        if record then
          add(record[R_QUEUE])
        end
      end
      -- A free node serves every queue: the queues with ready tasks in `ready-by-queue`, in name
      -- order, passing over each unserved one (paused, held by its rate limit) with one jump past
      -- its range, so that a backlog of those hides no other queue's tasks from it.
      -- Group entries ("\1…", "\2…", see Groups above) sort before every queue name: the scan
      -- starts past them.
      local from, jumps = '[\3', 0
      while serves_all and #queues < QUEUE_LOOKUPS and jumps < 2 * QUEUE_LOOKUPS do
        jumps = jumps + 1
        local first = redis.call('ZRANGEBYLEX', readyByQueueKey, from, '+', 'LIMIT', 0, 1)[1]
        if not first then
          break
        end
        local queue = string.match(first, '^([^>]*)>')
        add(queue)
        from = '(' .. queue .. '>\255'
      end
      return queues
    end

    -- The best ready tasks of some queues, found in `ready-by-queue` instead of in `ready`.
    local function dispatch_by_queue()
      local candidates = {}
      -- Past the last task read of a queue whose chunk was full, the order is not known.
      local horizon = nil
      for _, queue in ipairs(queues_to_look_up()) do
        local members = redis.call('ZRANGEBYLEX', readyByQueueKey, '[' .. queue .. '>', '[' .. queue .. '>\255',
          'LIMIT', 0, QUEUE_CHUNK)
        for _, member in ipairs(members) do
          local rest = string.sub(member, #queue + 2)
          candidates[#candidates + 1] = { score = tonumber(string.sub(rest, 1, 16)), id = string.sub(rest, 18), member = member }
        end
        if #members == QUEUE_CHUNK then
          local last = candidates[#candidates].score
          if horizon == nil or last < horizon then
            horizon = last
          end
        end
      end
      table.sort(candidates, function(a, b)
        return a.score < b.score or (a.score == b.score and a.id < b.id)
      end)
      for _, candidate in ipairs(candidates) do
        if horizon and candidate.score > horizon then
          return
        end
        local record = load_task(candidate.id)
        if not record or record[R_STATE] ~= 'ready' then
          -- An entry that outlived its task's stay in `ready` (or a task that went out through
          -- its group's turn in this call): nothing to dispatch, drop it.
          zset_remove(readyByQueueKey, candidate.member)
        elseif unserved[record[R_QUEUE]] then
          -- Passed over.
        elseif record[R_GROUP] and config.groups then
          if not serve_group_turn(record[R_QUEUE], candidate.id, record) then
            return
          end
        elseif not try_assign(candidate.id, record) then
          return
        end
      end
    end

    flush_ready()
    dispatch_by_queue()
  end
  if window then
    close_window()
  end
  for queue, w in pairs(turn_windows) do
    close_turns(queue, w)
  end
  if capped then
    lower_due(now)
  end
  return taken
end

-- Ends a state-changing call: writes back what was gathered in Lua (task records, index
-- changes, nodes, counts, the namespace's clocks) and wakes the nodes that got work.
local function commit()
  flush_ready()
  flush_tasks()
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
  for queue, w in pairs(rate_windows) do
    if w.changed then
      meta[#meta + 1] = 'rate:' .. queue
      meta[#meta + 1] = cmsgpack.pack(w.log)
    end
  end
  rate_windows = {}
  local gone = {}
  for field in pairs(group_changed) do
    local value
    if string.sub(field, 1, 3) == 'gp:' then
      value = group_passes[string.sub(field, 4)]
    else
      value = group_vtimes[string.sub(field, 5)]
    end
    if value then
      meta[#meta + 1] = field
      meta[#meta + 1] = string.format('%.0f', value)
    else
      gone[#gone + 1] = field
    end
  end
  group_changed = {}
  if #gone > 0 then
    redis.call('HDEL', metaKey, unpack(gone))
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
