--- @script list-schedules
--- @version 1
--- @summary Lists one page of the namespace's schedules, in no particular order; the reply's cursor continues the listing.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key schedules hash Schedule id to its packed record.
--- @arg cursor string[0,20]= Empty to start; otherwise the cursor of the previous page's reply.
--- @arg limit integer[1,100]=20 About this many schedules per page (HSCAN's COUNT: a page may hold a few more or fewer).
--- @reply { schedules: ({ id: string, revision: integer, kind: string, expression: string, timezone: string, intervalMs: integer, startAt: integer, endAt: integer,
--- @reply   missed: string, catchUpCap: integer, graceMs: integer, chain: integer, paused: integer, nextAt: integer, horizon: integer,
--- @reply   timesLeft: integer, firings: integer, lastFireAt: integer, lastTaskId: string, queue: string, priority: integer,
--- @reply   maxAttempts: integer, backoff: string, backoffMs: integer, backoffCapMs: integer, leaseMs: integer, createdAt: integer, payload: bytes })[], cursor: string }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/schedule-describe"
-- Cost: O(limit) per page, one HSCAN and a record decoded per schedule. A schedule there
-- through the whole listing is listed at least once (HSCAN's guarantee; rarely twice); only an
-- empty cursor means the end.
open_namespace_for_reading()
if cursor ~= '' and not string.match(cursor, '^[0-9]+$') then
  fail('TM_BAD_ARGUMENT', 'cursor: expected the cursor of a previous page')
end
local page = redis.call('HSCAN', schedulesKey, cursor == '' and '0' or cursor, 'COUNT', limit)
local schedules = {}
for i = 1, #page[2], 2 do
  schedules[#schedules + 1] = describe_schedule(page[2][i], cmsgpack.unpack(page[2][i + 1]))
end
return { 'schedules', schedules, 'cursor', page[1] == '0' and '' or page[1] }
