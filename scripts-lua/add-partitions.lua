--- @script add-partitions
--- @version 1
--- @summary Publishes new partitions of a namespace, already initialised, in its partition table; the count only grows.
--- @key meta hash Key-schema version, configuration and counters; partition 0's meta holds the partition table.
--- @arg count integer[1,1024] The number of partitions the caller read from the table; refused if it has changed since.
--- @group partitions 1..1023 The new partitions, in index order from `count`; each is the field below.
--- @field salt integer[0,999999] The salt of the partition's hash tag "<namespace>/<index>.<salt>", chosen to place it on a shard.
--- @reply integer
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_PARTITIONS_CHANGED
--- @include "lib/config"
-- Cost: O(P). Existing tasks stay where they are: routing by the new count sends new ids over
-- every partition, and lookups fall back to the counts in `history` for ids enqueued before.
local values = redis.call('HMGET', metaKey, 'schema', 'partitionSalts', 'partitionHistory', 'seq')
check_schema(values[1])
local salts = values[2] or ''
local current = 1
for _ in string.gmatch(salts, '[^,]+') do
  current = current + 1
end
if current ~= count then
  fail('TM_PARTITIONS_CHANGED', 'count: the namespace has ' .. current .. ' partitions, not ' .. count ..
    ': read the partition table again')
end
if count + #partitions > 1024 then
  fail('TM_BAD_ARGUMENT', 'partitions: ' .. count .. ' + ' .. #partitions .. ' is more than 1024 partitions')
end
for _, partition in ipairs(partitions) do
  salts = salts == '' and tostring(partition.salt) or salts .. ',' .. partition.salt
end
local total = count + #partitions
-- A namespace that never held a task and had one partition (one created with P partitions)
-- has no earlier count worth remembering: no id can be where that count put it, and keeping it
-- would make every enqueue look there for a duplicate.
local history = (values[3] or '1') .. ',' .. total
if count == 1 and (values[4] or '0') == '0' then
  history = tostring(total)
end
redis.call('HSET', metaKey, 'partitionSalts', salts, 'partitionHistory', history)
return total
