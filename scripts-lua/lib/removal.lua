--- @lib removal
--- @include "lib/lifecycle"
-- Removing a finished task by hand does to it what the retention sweep does (lib/maintenance):
-- its record, its dependency list and its index entry go, and its state is counted out. Only a
-- retained task can go: a finished task still held by a dependent that may read its result, or
-- by edges to its parents not yet released (lib/lifecycle), is not in `done` or `dead` yet.
local function remove_retained(id, record, index_key)
  -- Proxies (lib/outbox) were never counted.
  if not is_proxy(id) then
    local state = record[R_STATE]
    state_deltas[state] = (state_deltas[state] or 0) - 1
    if state == 'completed' then
      config.completedCount = config.completedCount - 1
    else
      config.deadCount = config.deadCount - 1
    end
    emit('removed', id, nil, state)
  end
  forget_task(id)
  zset_remove(index_key, id)
  redis.call('HDEL', taskKey, id)
  redis.call('HDEL', depsKey, id)
end
