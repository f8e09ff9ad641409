--- @lib config
--- @include "lib/clock"
-- The meta hash holds the key-schema version, the scheduler's configuration and its counters.
-- A script opens the namespace before anything else: it refuses a namespace that was never
-- initialised or that holds data of another schema version, so old scripts never misread
-- data written by newer ones (or the other way round). One HMGET reads everything a call
-- needs to decide what it has to do, including `dueAt`, the time the next housekeeping item
-- falls due: a call that finds it in the future does no housekeeping at all.
local SCHEMA_VERSION = '3'

local config = {}

local CONFIG_FIELDS = {
  'schema', 'strategy', 'payloadCap', 'resultCap', 'keepCompletedMs', 'keepCompletedCount',
  'keepDeadMs', 'keepDeadCount', 'eventsMaxLen', 'nodeTimeoutMs', 'seq', 'vtime', 'dueAt', 'timerNode',
  'count:completed', 'count:dead', 'count:canceled', 'queueFilters',
  'pausedQueues', 'rateLimits', 'groups',
}

local function check_schema(schema)
  if not schema then
    fail('TM_NOT_INITIALIZED', 'namespace has no scheduler: run the init script first')
  end
  if schema ~= SCHEMA_VERSION then
    fail('TM_SCHEMA_MISMATCH', 'namespace holds key-schema version ' .. tostring(schema) ..
      ', these scripts understand version ' .. SCHEMA_VERSION .. ': load the matching taskmill version')
  end
end

-- What a read-only script needs: the schema check and nothing else.
local function open_namespace_for_reading()
  check_schema(redis.call('HGET', metaKey, 'schema'))
end

local function open_namespace()
  local values = redis.call('HMGET', metaKey, unpack(CONFIG_FIELDS))
  check_schema(values[1])
  config.strategy = values[2]
  config.payloadCap = tonumber(values[3])
  config.resultCap = tonumber(values[4])
  config.keepCompletedMs = tonumber(values[5])
  config.keepCompletedCount = tonumber(values[6])
  config.keepDeadMs = tonumber(values[7])
  config.keepDeadCount = tonumber(values[8])
  config.eventsMaxLen = tonumber(values[9])
  config.nodeTimeoutMs = tonumber(values[10])
  config.seq = tonumber(values[11] or '0')
  config.vtime = tonumber(values[12] or '0')
  config.dueAt = tonumber(values[13] or '0')
  config.timerNode = values[14] or ''
  config.completedCount = tonumber(values[15] or '0')
  config.deadCount = tonumber(values[16] or '0') + tonumber(values[17] or '0')
  config.queueFilters = values[18] == '1'
  -- Paused queues (pause-queue, resume-queue): comma-separated and sorted, absent or '' when
  -- none. The set is built only when some queue is paused (lib/dispatch).
  config.pausedQueues = values[19] or ''
  if config.pausedQueues ~= '' then
    config.paused = {}
    for queue in string.gmatch(config.pausedQueues, '[^,]+') do
      config.paused[queue] = true
    end
  end
  -- Rate limits (set-rate-limit): "<queue>=<max>/<intervalMs>", comma-separated and sorted,
  -- absent when none. The table is built only when some queue has a limit (lib/dispatch).
  config.rateLimits = values[20] or ''
  if config.rateLimits ~= '' then
    config.limits = {}
    for queue, max, interval in string.gmatch(config.rateLimits, '([^,=]+)=(%d+)/(%d+)') do
      config.limits[queue] = { max = tonumber(max), interval = tonumber(interval) }
    end
  end
  -- Set by the first task enqueued with a group: only then does dispatch keep the groups'
  -- indexes (lib/dispatch, Groups).
  config.groups = values[21] == '1'
  read_clock()
end

-- Housekeeping runs only when something is due. `dueAt` is never later than the earliest due
-- item (a delayed task, a lease, a silent node, a retention deadline, pending propagation):
-- a write that adds an earlier item lowers it, and a round of housekeeping sets it afresh.
-- A stale, early `dueAt` costs one round that finds little to do; a late one would strand work.
local due_changed, due_lowered, timer_changed = false, false, false

local function lower_due(at)
  if at < config.dueAt then
    config.dueAt = at
    due_changed, due_lowered = true, true
  end
end

local function housekeeping_due()
  return now >= config.dueAt
end
