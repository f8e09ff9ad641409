--- @script task-graph
--- @version 1
--- @summary Reads one task's place in the dependency graph: its state, its dependencies with their states, and the dependents still waiting on it with theirs.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @key edges zset Unsettled dependencies, as "<parent>><child>".
--- @arg id id The task.
--- @arg limit integer[1,1000]=100 At most this many dependents.
--- @reply nil | { state: string, parents: [id: string, state: string][],
--- @reply   children: [id: string, state: string][], more: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
--- @include "lib/record"
-- Cost: O(d + limit) for a task with d dependencies: one record read per neighbour.
--
-- Dependencies come from the task's `deps` entry, which stays as long as the task does; one of
-- another partition is listed as "<partition>/<id>" with the state of its proxy here (waiting
-- until its outcome arrived). A dependency swept by retention is "removed".
--
-- Dependents come from the `edges` zset, where an edge stays until the dependent finishes: a
-- finished dependent is no longer listed here (it still lists this task among its own
-- dependencies). Dependents in other partitions are one entry "/<partition>" each, with state
-- "remote". `more` is 1 when dependents past `limit` were left out.
open_namespace_for_reading()
local record = load_task(id)
if not record then
  return false
end
local parents = {}
for dependency in string.gmatch(redis.call('HGET', depsKey, id) or '', '[^,]+') do
  local parent = load_task(dependency)
  parents[#parents + 1] = { dependency, parent and parent[R_STATE] or 'removed' }
end
local children = {}
local edges = redis.call('ZRANGEBYLEX', edgesKey, '[' .. id .. '>', '[' .. id .. '>\255', 'LIMIT', 0, limit + 1)
local prefix_length = #id + 2
for i = 1, math.min(#edges, limit) do
  local child = string.sub(edges[i], prefix_length)
  if string.sub(child, 1, 1) == '/' then
    children[#children + 1] = { child, 'remote' }
  else
    local child_record = load_task(child)
    children[#children + 1] = { child, child_record and child_record[R_STATE] or 'removed' }
  end
end
return { 'state', record[R_STATE], 'parents', parents, 'children', children, 'more', #edges > limit and 1 or 0 }
