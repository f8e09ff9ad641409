--- @script stats
--- @version 2
--- @summary Reads task counts per state and, per worker node, its weight, capacity, tasks in flight, completed, failed and last heartbeat.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key nodes hash Worker node id to its packed record.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @reply { strategy: string, waiting: integer, delayed: integer, ready: integer, assigned: integer,
--- @reply   running: integer, retrying: integer, completed: integer, dead: integer, canceled: integer,
--- @reply   nodes: [id: string, weight: integer, capacity: integer, inflight: integer, completed: integer,
--- @reply   failed: integer, lastSeenAt: integer, queues: string][] }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
-- Cost: O(1) for the counts; O(n) for the node list, the one part that lists every node.
local STATES = { 'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled' }
-- One read for the schema, the strategy and every count.
local values = redis.call('HMGET', metaKey, 'schema', 'strategy', 'count:waiting', 'count:delayed', 'count:ready',
  'count:assigned', 'count:running', 'count:retrying', 'count:completed', 'count:dead', 'count:canceled')
check_schema(values[1])
local reply = { 'strategy', values[2] }
for i, state in ipairs(STATES) do
  reply[#reply + 1] = state
  reply[#reply + 1] = tonumber(values[i + 2] or '0')
end
-- The node list is the one part that grows with the namespace: stats lists every node.
local rows = {}
local flat = redis.call('HGETALL', nodesKey)
if #flat > 0 then
  local seen_at = {}
  local seen = redis.call('ZRANGE', seenKey, 0, -1, 'WITHSCORES')
  for i = 1, #seen, 2 do
    seen_at[seen[i]] = tonumber(seen[i + 1])
  end
  for i = 1, #flat, 2 do
    local r = cmsgpack.unpack(flat[i + 1])
    rows[#rows + 1] = { flat[i], r[1], r[2], r[3], r[5], r[6], seen_at[flat[i]] or 0, r[7] }
  end
  table.sort(rows, function(a, b) return a[1] < b[1] end)
end
reply[#reply + 1] = 'nodes'
reply[#reply + 1] = rows
return reply
