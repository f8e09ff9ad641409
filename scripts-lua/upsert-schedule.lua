--- @script upsert-schedule
--- @version 1
--- @summary Creates a repeating schedule, or replaces one's definition on a compare-and-set of its revision.
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @key wake channel Prefix of the nodes' wake channels.
--- @arg id id The schedule id, at most 100 characters; each firing's task is "<id>:<fire time in ms>".
--- @arg revision integer[0,9007199254740991]=0 0 to create (refused when the id exists); otherwise the revision the caller read, and the schedule is replaced only while it still has it.
--- @arg kind enum(cron|interval) A cron expression's times, or a fixed interval.
--- @arg expression string[0,200]= The cron expression, kept for listing and for computing more times; empty for an interval schedule.
--- @arg timezone string[0,64]=UTC The IANA time zone the cron expression is read in.
--- @arg intervalMs integer[0,31536000000]=0 An interval schedule's period, at least 100 ms; 0 for a cron schedule.
--- @arg times string[0,1100]= A cron schedule's next fire times, comma-separated Unix times in ms, ascending, at most 64 (client/cron.ts computes them); empty for an interval schedule.
--- @arg startAt integer[0,9007199254740991]=0 No firing before this Unix time in ms; an interval schedule fires first at it. 0: from now (an interval schedule fires first one interval from now).
--- @arg endAt integer[0,9007199254740991]=0 No firing after this Unix time in ms; 0 for none.
--- @arg missed enum(skip|once|catch-up)=skip Which of the firings missed while nothing ran get a task (lib/schedule-firing).
--- @arg catchUpCap integer[1,1000]=10 With missed=catch-up, at most this many of the most recent missed firings.
--- @arg graceMs integer[0,86400000]=60000 With missed=skip, how late a firing may be and still run.
--- @arg chain boolean=0 1: each firing's task depends on the previous firing's task, so two runs never overlap.
--- @arg paused boolean=0 1: the schedule is stored paused.
--- @arg payload bytes= Each task's payload; at most the namespace's payload cap.
--- @arg queue id=default Each task's queue.
--- @arg priority integer[-1000,1000]=0 Each task's priority.
--- @arg maxAttempts integer[1,1000]=3 Each task's handler attempts.
--- @arg backoff enum(fixed|exponential)=exponential Each task's retry backoff.
--- @arg backoffMs integer[0,86400000]=1000 Each task's wait before its first retry.
--- @arg backoffCapMs integer[0,86400000]=3600000 Each task's longest wait before a retry.
--- @arg leaseMs integer[100,86400000]=30000 Each task's lease.
--- @reply { revision: integer, nextAt: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_PAYLOAD_TOO_LARGE TM_SCHEDULE_EXISTS
--- @error TM_UNKNOWN_SCHEDULE TM_SCHEDULE_CHANGED
--- @include "lib/schedule-edit"
-- Cost: O(log S) for S schedules: one record read and written, one index write, one read of the
-- index's head. `nextAt` in the reply is 0 when the schedule will not fire (paused, ended, or a
-- cron schedule given no times).
open_namespace()
if #id > 100 then
  fail('TM_BAD_ARGUMENT', 'id: expected at most 100 characters, got ' .. #id)
end
if #payload > config.payloadCap then
  fail('TM_PAYLOAD_TOO_LARGE', 'payload: ' .. #payload .. ' bytes, the cap is ' .. config.payloadCap .. ' (init payloadCap)')
end
local cron_times
if kind == 'interval' then
  if intervalMs < 100 then
    fail('TM_BAD_ARGUMENT', 'intervalMs: an interval schedule needs at least 100, got ' .. intervalMs)
  end
  if expression ~= '' or times ~= '' then
    fail('TM_BAD_ARGUMENT', (expression ~= '' and 'expression' or 'times') .. ': must be empty for an interval schedule')
  end
else
  if expression == '' then
    fail('TM_BAD_ARGUMENT', 'expression: a cron schedule needs its expression')
  end
  if intervalMs ~= 0 then
    fail('TM_BAD_ARGUMENT', 'intervalMs: must be 0 for a cron schedule, got ' .. intervalMs)
  end
  if timezone == '' then
    fail('TM_BAD_ARGUMENT', 'timezone: expected an IANA time zone name')
  end
  cron_times = parse_times(times, 'times')
end
if endAt > 0 and endAt < startAt then
  fail('TM_BAD_ARGUMENT', 'endAt: ' .. endAt .. ' is before startAt ' .. startAt)
end
local existing = load_schedule(id)
if revision == 0 and existing then
  fail('TM_SCHEDULE_EXISTS', 'id: schedule "' .. id .. '" exists (revision ' .. existing[S.REVISION] .. ')')
end
if revision > 0 and not existing then
  fail('TM_UNKNOWN_SCHEDULE', 'id: no schedule "' .. id .. '" in this namespace')
end
if revision > 0 and existing[S.REVISION] ~= revision then
  fail('TM_SCHEDULE_CHANGED', 'revision: schedule "' .. id .. '" is at revision ' .. existing[S.REVISION] .. ', not ' .. revision)
end

-- Writes start here. An update keeps the schedule's history (firings, last task), and no time
-- up to its last firing fires again.
local schedule = {
  (existing and existing[S.REVISION] or 0) + 1, kind, expression, kind == 'cron' and timezone or '', intervalMs,
  startAt, endAt, missed, catchUpCap, graceMs, chain and 1 or 0, paused and 1 or 0, 0, {}, 0,
  existing and existing[S.FIRINGS] or 0, existing and existing[S.LAST_FIRE_AT] or 0, existing and existing[S.LAST_TASK] or '',
  payload, queue, priority, maxAttempts, backoff, backoffMs, backoffCapMs, leaseMs, existing and existing[S.CREATED_AT] or now,
}
local floor = math.max(startAt > 0 and startAt or now, schedule[S.LAST_FIRE_AT] + 1)
if kind == 'interval' then
  if startAt == 0 then
    schedule[S.START_AT] = now + intervalMs
    floor = math.max(schedule[S.START_AT], floor)
  end
  set_next(schedule, interval_time_after(schedule, floor - 1))
else
  add_times(schedule, cron_times, floor)
end
save_schedule(id, schedule)
index_schedule(id, schedule)
announce_schedule_due()
return { 'revision', schedule[S.REVISION], 'nextAt', schedule[S.PAUSED] == 1 and 0 or schedule[S.NEXT_AT] }
