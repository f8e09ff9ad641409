--- @script pause-schedule
--- @version 1
--- @summary Pauses a schedule: it fires nothing until resumed.
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @arg id id The schedule to pause.
--- @reply "paused" | "unchanged"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_SCHEDULE
--- @include "lib/schedule"
-- Cost: O(log S): the record read and written, its index entry removed. "unchanged": it was
-- paused already.
open_namespace()
local schedule = load_schedule(id)
if not schedule then
  fail('TM_UNKNOWN_SCHEDULE', 'id: no schedule "' .. id .. '" in this namespace')
end
if schedule[S.PAUSED] == 1 then
  return 'unchanged'
end
schedule[S.PAUSED] = 1
save_schedule(id, schedule)
index_schedule(id, schedule)
-- A later first firing can only raise the due time, which a round of housekeeping does.
sync_schedule_due()
return 'paused'
