--- @script refill-schedule
--- @version 1
--- @summary Appends the next fire times of a cron schedule, computed by the caller after its horizon, while its revision and horizon are still those the caller read.
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @key wake channel Prefix of the nodes' wake channels.
--- @arg id id The cron schedule.
--- @arg revision integer[1,9007199254740991] The revision the caller read (get-schedule).
--- @arg horizon integer[0,9007199254740991] The horizon the caller read: the times are those after it.
--- @arg times string[1,1100] The next fire times after the horizon, comma-separated Unix times in ms, ascending, at most 64.
--- @reply { timesLeft: integer, nextAt: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_SCHEDULE TM_SCHEDULE_CHANGED
--- @include "lib/schedule-edit"
-- Cost: O(log S). Several callers may refill the same schedule at once: the first one wins, the
-- others get TM_SCHEDULE_CHANGED (the horizon moved) and have nothing left to do. A schedule
-- keeps at most 64 times; those beyond are dropped and computed at a later refill.
open_namespace()
local more = parse_times(times, 'times')
local schedule = load_schedule(id)
if not schedule then
  fail('TM_UNKNOWN_SCHEDULE', 'id: no schedule "' .. id .. '" in this namespace')
end
if schedule[S.KIND] ~= 'cron' then
  fail('TM_BAD_ARGUMENT', 'id: schedule "' .. id .. '" is an interval schedule; only cron schedules take times')
end
if schedule[S.REVISION] ~= revision or schedule[S.HORIZON] ~= horizon then
  fail('TM_SCHEDULE_CHANGED', 'schedule "' .. id .. '" is at revision ' .. schedule[S.REVISION] .. ' with horizon ' ..
    schedule[S.HORIZON] .. ', not revision ' .. revision .. ' with horizon ' .. horizon)
end
add_times(schedule, more, math.max(schedule[S.START_AT], schedule[S.LAST_FIRE_AT] + 1))
save_schedule(id, schedule)
index_schedule(id, schedule)
announce_schedule_due()
return { 'timesLeft', #schedule[S.TIMES], 'nextAt', schedule[S.NEXT_AT] }
