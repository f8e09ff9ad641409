--- @script get-schedule
--- @version 1
--- @summary Reads one schedule, or nil when there is none with that id.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @arg id id The schedule.
--- @reply { id: string, revision: integer, kind: string, expression: string, timezone: string, intervalMs: integer, startAt: integer, endAt: integer,
--- @reply   missed: string, catchUpCap: integer, graceMs: integer, chain: integer, paused: integer, nextAt: integer, horizon: integer,
--- @reply   timesLeft: integer, firings: integer, lastFireAt: integer, lastTaskId: string, queue: string, priority: integer,
--- @reply   maxAttempts: integer, backoff: string, backoffMs: integer, backoffCapMs: integer, leaseMs: integer, createdAt: integer, payload: bytes } | nil
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/schedule-describe"
-- Cost: O(1). nextAt 0: the schedule will not fire as it stands (ended, or a cron schedule
-- waiting for more times); paused 1 overrides it.
open_namespace_for_reading()
local schedule = load_schedule(id)
if not schedule then
  return nil
end
return describe_schedule(id, schedule)
