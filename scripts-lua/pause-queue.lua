--- @script pause-queue
--- @version 1
--- @summary Pauses a queue: none of its tasks is dispatched until it is resumed; tasks already assigned or running finish as usual.
--- @key meta hash Key-schema version, configuration and counters.
--- @key events stream Capped event log.
--- @arg queue id The queue to pause, named as enqueue names it.
--- @reply { changed: integer, pausedQueues: string }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/events"
-- Cost: O(1) in tasks and nodes; the paused queues are one meta field, `pausedQueues`,
-- comma-separated and sorted, read by every call with the rest of the configuration
-- (lib/config), so at most PAUSED_MAX queues may be paused at once.
--
-- Pausing a paused queue changes nothing and answers `changed` 0. Pausing also sets
-- `queueFilters`, so that the tasks of other queues waiting behind the paused queue's backlog
-- are indexed by queue and reached (lib/dispatch, Paused queues).
local PAUSED_MAX = 100
open_namespace()
if config.paused and config.paused[queue] then
  return { 'changed', 0, 'pausedQueues', config.pausedQueues }
end
local names = { queue }
for name in pairs(config.paused or {}) do
  names[#names + 1] = name
end
if #names > PAUSED_MAX then
  fail('TM_BAD_ARGUMENT', 'queue: ' .. PAUSED_MAX .. ' queues are paused already, the most there may be; resume one first')
end
table.sort(names)
local list = table.concat(names, ',')
redis.call('HSET', metaKey, 'pausedQueues', list, 'queueFilters', 1)
emit('paused', nil, nil, queue)
flush_events()
return { 'changed', 1, 'pausedQueues', list }
