--- @script partitions
--- @version 2
--- @summary Reads a namespace's partition table: how many partitions it has, each one's hash tag, the counts it has had, and the configuration a new partition copies.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters; partition 0's meta holds the partition table.
--- @reply { count: integer, tags: string[], history: integer[], strategy: string, payloadCap: integer,
--- @reply   resultCap: integer, keepCompletedMs: integer, keepCompletedCount: integer, keepDeadMs: integer,
--- @reply   keepDeadCount: integer, eventsMaxLen: integer, nodeTimeoutMs: integer, pausedQueues?: string }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
-- Cost: O(P) for P partitions, read once when a client opens the namespace and when it
-- looks for a raised count.
local values = redis.call('HMGET', metaKey, 'schema', 'partitionSalts', 'partitionHistory', 'strategy', 'payloadCap',
  'resultCap', 'keepCompletedMs', 'keepCompletedCount', 'keepDeadMs', 'keepDeadCount', 'eventsMaxLen', 'nodeTimeoutMs', 'pausedQueues')
check_schema(values[1])
-- keys_prefix is "tm:{<namespace>}:"; partition 0 is the namespace itself.
local namespace = string.sub(keys_prefix, 5, -3)
local tags = { namespace }
for salt in string.gmatch(values[2] or '', '[^,]+') do
  tags[#tags + 1] = namespace .. '/' .. #tags .. '.' .. salt
end
local history = {}
for count in string.gmatch(values[3] or '1', '[^,]+') do
  history[#history + 1] = tonumber(count)
end
local reply = { 'count', #tags, 'tags', tags, 'history', history, 'strategy', values[4] }
local NUMERIC = { 'payloadCap', 'resultCap', 'keepCompletedMs', 'keepCompletedCount', 'keepDeadMs', 'keepDeadCount',
  'eventsMaxLen', 'nodeTimeoutMs' }
for i, name in ipairs(NUMERIC) do
  reply[#reply + 1] = name
  reply[#reply + 1] = tonumber(values[i + 4])
end
-- Partition 0's paused queues (pause-queue), which a new partition is paused for too.
if values[13] and values[13] ~= '' then
  reply[#reply + 1] = 'pausedQueues'
  reply[#reply + 1] = values[13]
end
return reply
