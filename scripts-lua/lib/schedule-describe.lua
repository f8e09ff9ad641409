--- @lib schedule-describe
--- @include "lib/schedule"
-- What list-schedules and get-schedule reply for one schedule: field/value pairs.
local function describe_schedule(id, s)
  return {
    'id', id, 'revision', s[S.REVISION], 'kind', s[S.KIND], 'expression', s[S.EXPRESSION],
    'timezone', s[S.TIMEZONE], 'intervalMs', s[S.INTERVAL_MS], 'startAt', s[S.START_AT], 'endAt', s[S.END_AT],
    'missed', s[S.MISSED], 'catchUpCap', s[S.CATCH_UP_CAP], 'graceMs', s[S.GRACE_MS], 'chain', s[S.CHAIN],
    'paused', s[S.PAUSED], 'nextAt', s[S.NEXT_AT], 'horizon', s[S.HORIZON], 'timesLeft', #s[S.TIMES],
    'firings', s[S.FIRINGS], 'lastFireAt', s[S.LAST_FIRE_AT], 'lastTaskId', s[S.LAST_TASK],
    'queue', s[S.QUEUE], 'priority', s[S.PRIORITY], 'maxAttempts', s[S.MAX_ATTEMPTS], 'backoff', s[S.BACKOFF],
    'backoffMs', s[S.BACKOFF_MS], 'backoffCapMs', s[S.BACKOFF_CAP_MS], 'leaseMs', s[S.LEASE_MS],
    'createdAt', s[S.CREATED_AT], 'payload', s[S.PAYLOAD],
  }
end
