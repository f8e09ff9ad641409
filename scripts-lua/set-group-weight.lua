--- @script set-group-weight
--- @version 2
--- @summary Sets the weight of a group of a queue: its share of the queue's slots while other groups have ready tasks too.
--- @key meta hash Key-schema version, configuration and counters.
--- @arg queue id The queue, named as enqueue names it.
--- @arg group id The group, named as enqueue names it.
--- @arg weight integer[1,1000] The group's weight; 1 is the default of every group.
--- @reply { changed: integer, weight: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
-- Cost: O(1). The weight is the meta field `gw:<queue>><group>`, read by dispatch when it gives
-- the group a task (lib/dispatch, Groups); weight 1 is stored as no field. Meta `weightedGroups`
-- counts the groups with such a field, so that dispatch in a namespace without one reads no
-- weight. A group's place in its queue's turns is kept: the new weight sets the length of its
-- next steps.
local values = redis.call('HMGET', metaKey, 'schema', 'gw:' .. queue .. '>' .. group)
check_schema(values[1])
local current = tonumber(values[2]) or 1
if current == weight then
  return { 'changed', 0, 'weight', weight }
end
if weight == 1 then
  redis.call('HDEL', metaKey, 'gw:' .. queue .. '>' .. group)
  redis.call('HINCRBY', metaKey, 'weightedGroups', -1)
else
  redis.call('HSET', metaKey, 'gw:' .. queue .. '>' .. group, weight)
  if current == 1 then
    redis.call('HINCRBY', metaKey, 'weightedGroups', 1)
  end
end
return { 'changed', 1, 'weight', weight }
