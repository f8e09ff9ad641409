--- @lib events
--- @include "lib/config"
-- The event stream holds one entry per state-changing call: the call's events in the order
-- they happened, each as the fields `type task node detail`, repeated. One XADD per call instead
-- of one per transition, because a stream entry costs far more than a few more fields in it. The
-- stream is capped (approximately, so trimming stays cheap) at the configured number of
-- entries; a length of 0 turns events off for the whole namespace.
local pending_events = {}
-- Events per entry, so that unpack() stays far below Lua 5.1's limit.
local EVENTS_PER_ENTRY = 500

local function emit(kind, task_id, node_id, detail)
  if config.eventsMaxLen > 0 then
    local n = #pending_events
    pending_events[n + 1] = 'type'
    pending_events[n + 2] = kind
    pending_events[n + 3] = 'task'
    pending_events[n + 4] = task_id or ''
    pending_events[n + 5] = 'node'
    pending_events[n + 6] = node_id or ''
    pending_events[n + 7] = 'detail'
    pending_events[n + 8] = detail or ''
  end
end

local function flush_events()
  local count = #pending_events
  for i = 1, count, 8 * EVENTS_PER_ENTRY do
    redis.call('XADD', eventsKey, 'MAXLEN', '~', config.eventsMaxLen, '*',
      unpack(pending_events, i, math.min(i + 8 * EVENTS_PER_ENTRY - 1, count)))
  end
  pending_events = {}
end
