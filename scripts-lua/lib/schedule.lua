--- @lib schedule
--- @include "lib/config"
-- A repeating schedule is one field of the namespace's `schedules` hash: its id maps to a
-- MessagePack array in the field order below. `schedule-due` holds every schedule that will
-- fire, by its next fire time (a cron schedule that ran out of stored times is there too, due at
-- once, so that maintain asks for more); a paused or ended schedule is not in it. The earliest score of
-- `schedule-due` is copied to the meta field `scheduleDueAt`, which housekeeping's due-time
-- computation reads (lib/maintenance), so the namespace's `dueAt` is never later than the next
-- firing, and the timer node wakes for it like for a delayed task: between firings an idle
-- namespace costs nothing.
--
-- Fire times. An interval schedule fires at its start time and every `intervalMs` after it;
-- the next time is computed here. A cron schedule's times are computed by the client, which
-- parses the expression in its time zone (client/cron.ts), and stored in the record, ascending,
-- the first being the next; maintain consumes them, and `refill-schedule` appends more after
-- the horizon, the last time ever stored, on a compare-and-set of the revision and the horizon.

-- The field positions and limits in one table: maintain's chunk is near Lua 5.1's limit of 200
-- top-level locals.
local S = {
  REVISION = 1, KIND = 2, EXPRESSION = 3, TIMEZONE = 4, INTERVAL_MS = 5, START_AT = 6, END_AT = 7,
  MISSED = 8, CATCH_UP_CAP = 9, GRACE_MS = 10, CHAIN = 11, PAUSED = 12, NEXT_AT = 13, TIMES = 14, HORIZON = 15,
  FIRINGS = 16, LAST_FIRE_AT = 17, LAST_TASK = 18, PAYLOAD = 19, QUEUE = 20, PRIORITY = 21, MAX_ATTEMPTS = 22,
  BACKOFF = 23, BACKOFF_MS = 24, BACKOFF_CAP_MS = 25, LEASE_MS = 26, CREATED_AT = 27,
  -- Cron times a record holds at most, and how many left make maintain ask for more.
  MAX_STORED_TIMES = 64, REFILL_BELOW = 16,
  -- How long a cron schedule whose stored times ran out waits before maintain asks again for
  -- more (refill-schedule); until then it is not due.
  REFILL_RETRY_MS = 60000,
}

local function load_schedule(id)
  local packed = redis.call('HGET', schedulesKey, id)
  return packed and cmsgpack.unpack(packed) or nil
end

local function save_schedule(id, schedule)
  redis.call('HSET', schedulesKey, id, cmsgpack.pack(schedule))
end

-- The schedule's entry in `schedule-due`: there with its next time while it is active, else not.
-- A cron schedule that has run out of stored times before its end is due now, so that the next
-- maintain asks for more (lib/schedule-firing).
local function index_schedule(id, schedule)
  if schedule[S.PAUSED] == 1 then
    redis.call('ZREM', scheduleDueKey, id)
  elseif schedule[S.NEXT_AT] > 0 then
    redis.call('ZADD', scheduleDueKey, schedule[S.NEXT_AT], id)
  elseif schedule[S.KIND] == 'cron' and (schedule[S.END_AT] == 0 or schedule[S.HORIZON] < schedule[S.END_AT]) then
    redis.call('ZADD', scheduleDueKey, now, id)
  else
    redis.call('ZREM', scheduleDueKey, id)
  end
end

-- Copies the earliest score of `schedule-due` to meta `scheduleDueAt`; returns it, or nil.
local function sync_schedule_due()
  local head = redis.call('ZRANGE', scheduleDueKey, 0, 0, 'WITHSCORES')
  if head[2] then
    local at = tonumber(head[2])
    redis.call('HSET', metaKey, 'scheduleDueAt', at)
    return at
  end
  redis.call('HDEL', metaKey, 'scheduleDueAt')
  return nil
end

-- The first interval time after `after`: start, start + interval, ...
local function interval_time_after(schedule, after)
  local start, interval = schedule[S.START_AT], schedule[S.INTERVAL_MS]
  if start > after then
    return start
  end
  return start + (math.floor((after - start) / interval) + 1) * interval
end

-- Sets S.NEXT_AT from the schedule's times: 0 when it will not fire again (past its end, or a
-- cron schedule whose stored times ran out; refill-schedule gives it more).
local function set_next(schedule, next_at)
  if next_at and schedule[S.END_AT] > 0 and next_at > schedule[S.END_AT] then
    next_at = nil
  end
  schedule[S.NEXT_AT] = next_at or 0
end
