--- @script stats
--- @version 1
--- @summary Reads task counts per state and, per worker node, its weight, capacity, tasks in flight, completed, failed and last heartbeat.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key nodes hash Worker node id to its packed record.
--- @reply { strategy: string, waiting: integer, delayed: integer, ready: integer, assigned: integer,
--- @reply   running: integer, retrying: integer, completed: integer, dead: integer, canceled: integer,
--- @reply   nodes: [id: string, weight: integer, capacity: integer, inflight: integer, completed: integer,
--- @reply   failed: integer, lastSeenAt: integer, queues: string][] }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/nodes"
open_namespace()
local STATES = { 'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled' }
local fields = {}
for i, state in ipairs(STATES) do
  fields[i] = 'count:' .. state
end
local counts = redis.call('HMGET', metaKey, unpack(fields))
local reply = { 'strategy', config.strategy }
for i, state in ipairs(STATES) do
  reply[#reply + 1] = state
  reply[#reply + 1] = tonumber(counts[i] or '0')
end
local rows = {}
for _, node in ipairs(load_nodes()) do
  rows[#rows + 1] = { node.id, node.weight, node.capacity, node.inflight, node.completed, node.failed,
    node.lastSeenAt, node.queues }
end
reply[#reply + 1] = 'nodes'
reply[#reply + 1] = rows
return reply
