--- @script stats
--- @version 3
--- @summary Reads task counts per state, the completion and failure totals, the paused queues and, per worker node, its weight, capacity, tasks in flight, completed, failed, last heartbeat and whether it is stale.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key nodes hash Worker node id to its packed record.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @reply { strategy: string, waiting: integer, delayed: integer, ready: integer, assigned: integer,
--- @reply   running: integer, retrying: integer, completed: integer, dead: integer, canceled: integer,
--- @reply   completedTotal: integer, failedTotal: integer, pausedQueues: string[], now: integer,
--- @reply   nodes: { id: string, weight: integer, capacity: integer, inflight: integer, completed: integer,
--- @reply   failed: integer, lastSeenAt: integer, queues: string, stale: integer }[] }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
-- Cost: O(1) for the counts; O(n) for the node list, the one part that lists every node.
-- `completedTotal` and `failedTotal` only grow (lib/counts says what they count). `pausedQueues`
-- is the meta field of that name, a sorted comma-separated list. A node is stale when its last
-- heartbeat is older than the namespace's node timeout on the server clock (`now`, in ms), the
-- same test by which housekeeping drops silent nodes.
local STATES = { 'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled' }
-- One read for the schema, the strategy and every count.
local values = redis.call('HMGET', metaKey, 'schema', 'strategy', 'count:waiting', 'count:delayed', 'count:ready',
  'count:assigned', 'count:running', 'count:retrying', 'count:completed', 'count:dead', 'count:canceled',
  'total:completed', 'total:failed', 'pausedQueues', 'nodeTimeoutMs')
check_schema(values[1])
read_clock()
local reply = { 'strategy', values[2] }
for i, state in ipairs(STATES) do
  reply[#reply + 1] = state
  reply[#reply + 1] = tonumber(values[i + 2] or '0')
end
local paused = {}
for queue in string.gmatch(values[14] or '', '[^,]+') do
  paused[#paused + 1] = queue
end
reply[#reply + 1] = 'completedTotal'
reply[#reply + 1] = tonumber(values[12] or '0')
reply[#reply + 1] = 'failedTotal'
reply[#reply + 1] = tonumber(values[13] or '0')
reply[#reply + 1] = 'pausedQueues'
reply[#reply + 1] = paused
reply[#reply + 1] = 'now'
reply[#reply + 1] = now
-- The node list is the one part that grows with the namespace: stats lists every node.
local stale_before = now - tonumber(values[15] or '0')
local rows = {}
local flat = redis.call('HGETALL', nodesKey)
if #flat > 0 then
  local seen_at = {}
  local seen = redis.call('ZRANGE', seenKey, 0, -1, 'WITHSCORES')
  for i = 1, #seen, 2 do
    seen_at[seen[i]] = tonumber(seen[i + 1])
  end
  local ids = {}
  local records = {}
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    records[flat[i]] = cmsgpack.unpack(flat[i + 1])
  end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local r = records[id]
    local last_seen = seen_at[id] or 0
    rows[#rows + 1] = { 'id', id, 'weight', r[1], 'capacity', r[2], 'inflight', r[3], 'completed', r[5],
      'failed', r[6], 'lastSeenAt', last_seen, 'queues', r[7], 'stale', last_seen < stale_before and 1 or 0 }
  end
end
reply[#reply + 1] = 'nodes'
reply[#reply + 1] = rows
return reply
