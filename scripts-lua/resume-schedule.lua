--- @script resume-schedule
--- @version 1
--- @summary Resumes a paused schedule; the firings missed while it was paused are treated by its missed-firing policy.
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @key wake channel Prefix of the nodes' wake channels.
--- @arg id id The schedule to resume.
--- @reply "resumed" | "unchanged"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_SCHEDULE
--- @include "lib/schedule-edit"
-- Cost: O(log S): the record read and written, its index entry added. "unchanged": it was not
-- paused.
open_namespace()
local schedule = load_schedule(id)
if not schedule then
  fail('TM_UNKNOWN_SCHEDULE', 'id: no schedule "' .. id .. '" in this namespace')
end
if schedule[S.PAUSED] == 0 then
  return 'unchanged'
end
schedule[S.PAUSED] = 0
save_schedule(id, schedule)
index_schedule(id, schedule)
announce_schedule_due()
return 'resumed'
