--- @script dependency-results
--- @version 3
--- @summary Reads the state and result of each dependency of a task, so a handler can use what its parents produced; a dependency of another partition comes with its partition, and is "pending" until its outcome arrived here.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @arg id id The dependent task.
--- @reply [id: string, state: string, result: bytes | nil, partition: integer | nil][]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK
--- @include "lib/config"
--- @include "lib/record"
-- Cost: O(d) for a task with d dependencies.
open_namespace_for_reading()
local record = load_task(id)
if not record then
  fail('TM_UNKNOWN_TASK', 'id: no task "' .. id .. '" in this namespace')
end
local rows = {}
for dependency in string.gmatch(redis.call('HGET', depsKey, id) or '', '[^,]+') do
  -- A task of another partition is read from its proxy here (lib/outbox), shown by its own id.
  local partition, remote_id = string.match(dependency, '^(%d+)/(.+)$')
  local shown, where = remote_id or dependency, partition and tonumber(partition) or false
  local parent = load_task(dependency)
  if not parent then
    -- Swept by retention: the dependency completed long enough ago to be forgotten.
    rows[#rows + 1] = { shown, 'removed', false, where }
  elseif parent[R_STATE] == 'completed' then
    rows[#rows + 1] = { shown, 'completed', parent[R_RESULT], where }
  elseif partition and parent[R_STATE] == 'waiting' then
    -- Its partition knows its state; this one only that it has not heard of its end yet.
    rows[#rows + 1] = { shown, 'pending', false, where }
  else
    rows[#rows + 1] = { shown, parent[R_STATE], false, where }
  end
end
return rows
