--- @script remove-schedule
--- @version 1
--- @summary Removes a schedule; the tasks it fired already stay.
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @key schedule-due zset Active schedules by next fire time.
--- @arg id id The schedule to remove.
--- @reply "removed"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_SCHEDULE
--- @include "lib/schedule"
-- Cost: O(log S).
open_namespace()
if redis.call('HDEL', schedulesKey, id) == 0 then
  fail('TM_UNKNOWN_SCHEDULE', 'id: no schedule "' .. id .. '" in this namespace')
end
redis.call('ZREM', scheduleDueKey, id)
sync_schedule_due()
return 'removed'
