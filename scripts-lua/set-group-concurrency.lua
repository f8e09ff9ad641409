--- @script set-group-concurrency
--- @version 1
--- @summary Caps how many tasks of a group of a queue nodes may hold at once (assigned or running), or removes the cap; dispatches at once what a raised or removed cap lets go.
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key ready zset Ready tasks, by priority then enqueue order.
--- @key ready-by-queue zset Ready tasks again, as "<queue>><score>><task>", so that the next ready task of a queue is one lexicographic range.
--- @key delayed zset Delayed and retrying tasks, by due time.
--- @key leases zset Assigned and running tasks, by lease expiry.
--- @key assigned zset Tasks assigned to a node and not started, as "<node>><task>".
--- @key running zset Tasks running on a node, as "<node>><task>".
--- @key edges zset Unsettled dependencies, as "<parent>><child>".
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @key propagation list Finished tasks whose dependents are still to be settled.
--- @key done zset Completed tasks, by finish time.
--- @key dead zset Dead and canceled tasks, by finish time.
--- @key nodes hash Worker node id to its packed record.
--- @key free zset Nodes with a free slot, in dispatch order.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @key wake channel Prefix of the nodes' wake channels.
--- @key events stream Capped event log.
--- @key outbox hash Outcomes of finished tasks waiting to be relayed to other partitions, as "<partition>><task>".
--- @key relay zset The outbox's entries by when a relay may take them.
--- @arg queue id The queue, named as enqueue names it.
--- @arg group id The group, named as enqueue names it.
--- @arg max integer[0,100000] Most tasks of the group assigned or running at once; 0 removes the cap.
--- @reply { changed: integer, max: integer, dispatched: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/maintenance"
-- Cost: O(1) in tasks and nodes for the meta fields; dispatch O(log n) per task assigned, at most
-- 200 (lib/dispatch); housekeeping when due. The cap is the meta field `gc:<queue>><group>` and
-- the group's count of held tasks `gi:<queue>><group>` (lib/counts); `cappedGroups` counts the
-- capped groups, so that a namespace without one counts nothing.
--
-- The count starts when a cap is set on a group that had none: tasks the group's nodes hold
-- already are not in it, so until they finish the group may hold up to that many more than its
-- cap (lib/counts says why the count then never ends up too high). Changing a cap keeps the
-- count; removing it deletes the count.
open_namespace()
local key = queue .. '>' .. group
local current = tonumber(redis.call('HGET', metaKey, 'gc:' .. key)) or 0
if current == max then
  return { 'changed', 0, 'max', max, 'dispatched', 0 }
end
if max == 0 then
  redis.call('HDEL', metaKey, 'gc:' .. key, 'gi:' .. key)
  redis.call('HINCRBY', metaKey, 'cappedGroups', -1)
else
  redis.call('HSET', metaKey, 'gc:' .. key, max)
  if current == 0 then
    redis.call('HDEL', metaKey, 'gi:' .. key)
    redis.call('HINCRBY', metaKey, 'cappedGroups', 1)
  end
end
forget_group_cap(key)
emit('group-concurrency-set', nil, nil, key .. ' ' .. max)
maintain_if_due(100)
local dispatched = dispatch(nil, queue)
commit()
return { 'changed', 1, 'max', max, 'dispatched', dispatched }
