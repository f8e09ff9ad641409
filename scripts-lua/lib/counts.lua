--- @lib counts
--- @include "lib/record"
-- Per-state task counts live in the meta hash (`count:<state>`), so stats stay O(1) however
-- many tasks there are. Moves are summed in Lua and written once per call.
--
-- Tasks of a named queue (any queue but `default`) are also counted per queue while they are
-- unfinished, in meta fields `qcount:<queue>:<state>` for the states waiting, delayed, ready,
-- assigned, running and retrying; a field that comes back to 0 is deleted. `default` is not
-- stored: its count is the namespace's count less the named queues' (metrics.lua), so a
-- namespace whose tasks are all of `default` pays one comparison per move and writes nothing
-- more. No task of a named queue exists before the namespace uses queues (meta `queueFilters`
-- is set by the first one, lib/dispatch), so these counts need no backfill. The exception is a
-- namespace that already held unfinished tasks of named queues when it was upgraded to scripts
-- that keep these counts: those tasks were never counted, so their queues' counts drift below
-- the truth (and `default`'s above it) by that many, and stay so; nothing rebuilds them. Finished
-- tasks are not counted per queue: retention removes them, and only the namespace's count
-- follows that.
--
-- `total:completed` and `total:failed` only ever grow: a task completed, and a handler's
-- failure reported by fail (each failed attempt, whether the task then retries, dies or ends
-- canceled). A task that dies because a dependency failed, is lost too often or is canceled
-- without a failed attempt is not a failure here; the `dead` and `canceled` counts show it.
--
-- Cost: a move of a `default` task costs one string comparison more, and a call one or two
-- number tests; a call that completes or fails tasks sends one HINCRBY more per total, however
-- many tasks it settled (measured: about 1.1 to 1.6 µs of Redis CPU each, against roughly 75 µs
-- for a complete of one task). A named queue's move adds one HINCRBY per queue and state changed
-- in the call, and an HDEL when a count comes back to 0.
local state_deltas = {}
local queue_deltas = {}

-- Groups with a concurrency cap (set-group-concurrency: meta `gc:<queue>><group>`) have their
-- tasks that are assigned or running counted in meta `gi:<queue>><group>`, which dispatch
-- compares with the cap (lib/dispatch, Groups). Only capped groups are counted, and a namespace
-- without one (meta `cappedGroups`, their number, absent or 0) reads one field more, once, in a
-- call that moves a task of a group in or out of a node's hands, and nothing else. Counting
-- starts when the cap is set: tasks already held then are not counted, and when they finish the
-- count would go below the truth; it stops at 0 instead (the field is deleted), so the group may
-- hold more than its cap until those tasks are gone, never less.
local capped_groups = nil
local group_caps = {}
local inflight_stored = {}
local inflight_deltas = {}

-- Whether any group of the namespace has a cap.
local function any_group_caps()
  if capped_groups == nil then
    capped_groups = (tonumber(redis.call('HGET', metaKey, 'cappedGroups')) or 0) > 0
  end
  return capped_groups
end

-- The group's cap, or nil.
local function group_cap(key)
  if not any_group_caps() then
    return nil
  end
  local cap = group_caps[key]
  if cap == nil then
    cap = tonumber(redis.call('HGET', metaKey, 'gc:' .. key)) or false
    group_caps[key] = cap
  end
  return cap or nil
end

-- Tasks of a capped group held by nodes now, this call's moves included.
local function group_inflight(key)
  local stored = inflight_stored[key]
  if stored == nil then
    stored = math.max(0, tonumber(redis.call('HGET', metaKey, 'gi:' .. key)) or 0)
    inflight_stored[key] = stored
  end
  return stored + (inflight_deltas[key] or 0)
end

-- After a cap changed: read again.
local function forget_group_cap(key)
  capped_groups = nil
  group_caps[key] = nil
  inflight_stored[key] = nil
  inflight_deltas[key] = nil
end

local HELD = { assigned = true, running = true }
-- Completions and failed attempts of this call, added to `total:completed` and `total:failed`.
local totals = { completed = 0, failed = 0 }

local function set_state(record, state)
  local from = record[R_STATE]
  if from ~= '' then
    state_deltas[from] = (state_deltas[from] or 0) - 1
  end
  state_deltas[state] = (state_deltas[state] or 0) + 1
  record[R_STATE] = state
  local queue = record[R_QUEUE]
  local group = record[R_GROUP]
  if group and HELD[from] ~= HELD[state] then
    local key = queue .. '>' .. group
    if group_cap(key) then
      inflight_deltas[key] = (inflight_deltas[key] or 0) + (HELD[state] and 1 or -1)
    end
  end
  if queue ~= 'default' then
    if from ~= '' and from ~= 'completed' and from ~= 'dead' and from ~= 'canceled' then
      local field = 'qcount:' .. queue .. ':' .. from
      queue_deltas[field] = (queue_deltas[field] or 0) - 1
    end
    if state ~= 'completed' and state ~= 'dead' and state ~= 'canceled' then
      local field = 'qcount:' .. queue .. ':' .. state
      queue_deltas[field] = (queue_deltas[field] or 0) + 1
    end
  end
end

local function flush_counts()
  for state, delta in pairs(state_deltas) do
    if delta ~= 0 then
      redis.call('HINCRBY', metaKey, 'count:' .. state, delta)
    end
  end
  state_deltas = {}
  if next(queue_deltas) then
    for field, delta in pairs(queue_deltas) do
      if delta ~= 0 and redis.call('HINCRBY', metaKey, field, delta) == 0 then
        redis.call('HDEL', metaKey, field)
      end
    end
    queue_deltas = {}
  end
  if next(inflight_deltas) then
    for key, delta in pairs(inflight_deltas) do
      if delta ~= 0 then
        local count = redis.call('HINCRBY', metaKey, 'gi:' .. key, delta)
        if count <= 0 then
          redis.call('HDEL', metaKey, 'gi:' .. key)
          count = 0
        end
        inflight_stored[key] = count
      end
    end
    inflight_deltas = {}
  end
  if totals.completed > 0 then
    redis.call('HINCRBY', metaKey, 'total:completed', totals.completed)
    totals.completed = 0
  end
  if totals.failed > 0 then
    redis.call('HINCRBY', metaKey, 'total:failed', totals.failed)
    totals.failed = 0
  end
end
