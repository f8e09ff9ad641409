--- @script dependency-results
--- @version 2
--- @summary Reads the state and result of each dependency of a task, so a handler can use what its parents produced.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @arg id id The dependent task.
--- @reply [id: string, state: string, result: bytes | nil][]
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
  local parent = load_task(dependency)
  if not parent then
    -- Swept by retention: the dependency completed long enough ago to be forgotten.
    rows[#rows + 1] = { dependency, 'removed', false }
  elseif parent[R_STATE] == 'completed' then
    rows[#rows + 1] = { dependency, 'completed', parent[R_RESULT] }
  else
    rows[#rows + 1] = { dependency, parent[R_STATE], false }
  end
end
return rows
