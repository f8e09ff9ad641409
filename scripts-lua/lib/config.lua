--- @lib config
--- @include "lib/clock"
-- The meta hash holds the key-schema version, the scheduler's configuration and its counters.
-- A script opens the namespace before anything else: it refuses a namespace that was never
-- initialised or that holds data of another schema version, so old scripts never misread
-- data written by newer ones (or the other way round).
local SCHEMA_VERSION = '2'

local config = {}

local CONFIG_FIELDS = {
  'schema', 'strategy', 'payloadCap', 'resultCap', 'keepCompletedMs', 'keepCompletedCount',
  'keepDeadMs', 'keepDeadCount', 'eventsMaxLen', 'nodeTimeoutMs', 'seq', 'rrCursor',
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
  config.rrCursor = values[12] or ''
  read_clock()
end
