--- @lib schedule-edit
--- @include "lib/schedule"
-- What the scripts that create and change schedules share (maintain only fires them,
-- lib/schedule-firing).

-- For a script other than maintain: a firing earlier than the namespace's due time lowers it,
-- and the timer node, which sleeps until the due time it was told, is woken to read it.
local function announce_schedule_due()
  local at = sync_schedule_due()
  if at and at < config.dueAt then
    config.dueAt = at
    redis.call('HSET', metaKey, 'dueAt', at)
    if config.timerNode ~= '' then
      redis.call('SPUBLISH', wakeKey .. config.timerNode, 'due')
    end
  end
end

-- Cron times from a comma-separated list: ascending integers, each checked. Returns the
-- list, or fails naming the argument.
local function parse_times(text, name)
  local times = {}
  if text == '' then
    return times
  end
  for item in string.gmatch(text .. ',', '([^,]*),') do
    if not string.match(item, '^[0-9]+$') or #item > 15 then
      fail('TM_BAD_ARGUMENT', name .. '[' .. (#times + 1) .. ']: expected a Unix time in ms, got "' .. string.sub(item, 1, 20) .. '"')
    end
    local t = tonumber(item)
    if #times > 0 and t <= times[#times] then
      fail('TM_BAD_ARGUMENT', name .. '[' .. (#times + 1) .. ']: times must be strictly ascending, got ' .. item .. ' after ' .. times[#times])
    end
    times[#times + 1] = t
  end
  if #times > S.MAX_STORED_TIMES then
    fail('TM_BAD_ARGUMENT', name .. ': expected at most ' .. S.MAX_STORED_TIMES .. ' times, got ' .. #times)
  end
  return times
end

-- Appends the cron times after both the horizon and `floor` (times are never fired twice) and
-- not past the end; sets the next time.
local function add_times(schedule, times, floor)
  local kept = schedule[S.TIMES]
  for _, t in ipairs(times) do
    if t > schedule[S.HORIZON] and t >= floor and #kept < S.MAX_STORED_TIMES and
      (schedule[S.END_AT] == 0 or t <= schedule[S.END_AT]) then
      kept[#kept + 1] = t
      schedule[S.HORIZON] = t
    end
  end
  set_next(schedule, kept[1])
end
