--- @lib schedule-firing
--- @include "lib/schedule"
--- @include "lib/create-task"
-- Firing, run by maintain alone (the timer node's housekeeping, on the server clock). A
-- schedule is due when its next fire time has come. Its due times are those not later than
-- now (nor than its end), and the missed-firing policy picks which of them get a task:
--   skip      the most recent one, if it is at most `graceMs` late; none otherwise;
--   once      the most recent one, however late;
--   catch-up  the most recent `catchUpCap` of them, oldest first.
-- The others are dropped. Each firing enqueues one task, id "<schedule>:<fire time>", created
-- like an enqueued one (lib/create-task): an id that exists already is left alone, so a time
-- fired twice (by two callers, or after an update) still makes one task. With the chain flag a
-- firing's task depends on the previous firing's task and runs once it has finished, whatever
-- its outcome, so two runs never overlap.

-- Fires the due schedules, at most `limit` items in all (a firing is one, a schedule that
-- fires nothing is one). Returns the items used, the firings, and the cron schedules whose
-- stored times run low.
local function fire_schedules(limit)
  -- Defined inside, so their closures are built only by a call that has schedules due.
  local function fire_schedule_at(schedule_id, schedule, at)
    local id = schedule_id .. ':' .. at
    if load_task(id) then
      return id
    end
    local chained = schedule[S.CHAIN] == 1
    local task = {
      priority = schedule[S.PRIORITY], queue = schedule[S.QUEUE], maxAttempts = schedule[S.MAX_ATTEMPTS],
      backoff = schedule[S.BACKOFF], backoffMs = schedule[S.BACKOFF_MS], backoffCapMs = schedule[S.BACKOFF_CAP_MS],
      leaseMs = schedule[S.LEASE_MS], onDependencyFailure = chained and 'run' or 'fail',
      payload = schedule[S.PAYLOAD], runAt = 0, delayMs = 0,
    }
    local unmet = 0
    local parent_id = schedule[S.LAST_TASK]
    if chained and parent_id ~= '' then
      local parent = load_task(parent_id)
      if parent then
        redis.call('HSET', depsKey, id, parent_id)
        local state = parent[R_STATE]
        if state ~= 'completed' and state ~= 'dead' and state ~= 'canceled' then
          unmet = 1
          redis.call('ZADD', edgesKey, 0, parent_id .. '>' .. id)
          if parent[R_HAS_DEPENDENTS] ~= 1 then
            parent[R_HAS_DEPENDENTS] = 1
            save_task(parent_id, parent)
          end
        end
      end
    end
    local record = new_task_record(task, unmet, 0)
    emit('enqueued', id, nil, 'schedule ' .. schedule_id)
    if unmet > 0 then
      set_state(record, 'waiting')
    else
      make_runnable(id, record)
    end
    save_task(id, record)
    note_queue(task.queue)
    return id
  end

  -- The due times the policy picks, ascending.
  local function picked_times(schedule)
    local keep = 1
    if schedule[S.MISSED] == 'catch-up' then
      keep = schedule[S.CATCH_UP_CAP]
    end
    local last_allowed = now
    if schedule[S.END_AT] > 0 and schedule[S.END_AT] < last_allowed then
      last_allowed = schedule[S.END_AT]
    end
    local picked = {}
    if schedule[S.KIND] == 'interval' then
      local first, interval = schedule[S.NEXT_AT], schedule[S.INTERVAL_MS]
      if first > 0 and first <= last_allowed then
        local count = math.floor((last_allowed - first) / interval) + 1
        for j = math.max(0, count - keep), count - 1 do
          picked[#picked + 1] = first + j * interval
        end
      end
    else
      local times = schedule[S.TIMES]
      local due = 0
      while due < #times and times[due + 1] <= last_allowed do
        due = due + 1
      end
      for j = math.max(1, due - keep + 1), due do
        picked[#picked + 1] = times[j]
      end
    end
    if schedule[S.MISSED] == 'skip' and #picked > 0 and now - picked[#picked] > schedule[S.GRACE_MS] then
      picked = {}
    end
    return picked
  end

  -- Drops the stored cron times before `at` (or up to and including it when `inclusive`).
  local function drop_times(schedule, at, inclusive)
    local kept = {}
    for _, t in ipairs(schedule[S.TIMES]) do
      if t > at or (t == at and not inclusive) then
        kept[#kept + 1] = t
      end
    end
    schedule[S.TIMES] = kept
  end

  local due = redis.call('ZRANGEBYSCORE', scheduleDueKey, '-inf', now, 'LIMIT', 0, limit)
  local used, fired, refill = 0, 0, {}
  for _, schedule_id in ipairs(due) do
    if used >= limit then
      break
    end
    local schedule = load_schedule(schedule_id)
    if not schedule or schedule[S.PAUSED] == 1 then
      redis.call('ZREM', scheduleDueKey, schedule_id)
      used = used + 1
    else
      local picked = picked_times(schedule)
      local count = 0
      for _, at in ipairs(picked) do
        if used >= limit then
          break
        end
        local task_id = fire_schedule_at(schedule_id, schedule, at)
        schedule[S.FIRINGS] = schedule[S.FIRINGS] + 1
        schedule[S.LAST_FIRE_AT] = at
        schedule[S.LAST_TASK] = task_id
        count = count + 1
        used = used + 1
      end
      if count == 0 then
        used = used + 1
      end
      fired = fired + count
      local is_cron = schedule[S.KIND] == 'cron'
      if count < #picked then
        -- Out of budget: the rest of the picked times stay due for the next round.
        local rest = picked[count + 1]
        if is_cron then
          drop_times(schedule, rest, false)
        end
        schedule[S.NEXT_AT] = rest
      elseif is_cron then
        drop_times(schedule, now, true)
        set_next(schedule, schedule[S.TIMES][1])
      else
        set_next(schedule, interval_time_after(schedule, now))
      end
      save_schedule(schedule_id, schedule)
      index_schedule(schedule_id, schedule)
      if is_cron and #schedule[S.TIMES] < S.REFILL_BELOW and
        (schedule[S.END_AT] == 0 or schedule[S.HORIZON] < schedule[S.END_AT]) then
        refill[#refill + 1] = schedule_id
        if schedule[S.NEXT_AT] == 0 then
          redis.call('ZADD', scheduleDueKey, now + S.REFILL_RETRY_MS, schedule_id)
        end
      end
    end
  end
  return used, fired, refill
end
