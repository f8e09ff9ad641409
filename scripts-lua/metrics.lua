--- @script metrics
--- @version 1
--- @summary Reads what metrics export in one call: task counts per state and per queue and state, the completion and failure totals, the paused queues, each node's tasks in flight, capacity and staleness, and the age of the next ready task.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key nodes hash Worker node id to its packed record.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @key ready zset Ready tasks, by priority then enqueue order.
--- @key task hash Task id to its packed record.
--- @reply { waiting: integer, delayed: integer, ready: integer, assigned: integer, running: integer,
--- @reply   retrying: integer, completed: integer, dead: integer, canceled: integer,
--- @reply   completedTotal: integer, failedTotal: integer, pausedQueues: string[],
--- @reply   queues: [queue: string, state: string, count: integer][],
--- @reply   nodes: { id: string, inflight: integer, capacity: integer, stale: integer }[],
--- @reply   oldestReadyAgeMs: integer, now: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
--- @include "lib/record"
-- Cost: one HGETALL of the meta hash (its size grows with the named queues that hold unfinished
-- tasks, six fields each at most), one of the nodes hash with a record decoded per node (O(n)
-- nodes, like stats), and O(log T) for the head of `ready`.
--
-- `queues` gives, for each queue with unfinished tasks, its count in each of the states waiting,
-- delayed, ready, assigned, running and retrying. Named queues are counted as tasks move
-- (lib/counts); `default` is the namespace's count less theirs, so a namespace that uses only
-- `default` gets its namespace counts here. Finished tasks are counted per namespace only.
--
-- `oldestReadyAgeMs` is the age of the task at the head of `ready`, the one dispatch takes next
-- (highest priority, then earliest enqueued): server time less the later of its enqueue and
-- run-at times, 0 when nothing is ready. A task that waited for dependencies or a retry counts
-- that wait too. It shows a queue that is not being drained; a low-priority task held back by a
-- steady stream of higher ones is not its head and does not show here.
local STATES = { 'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled' }
local UNFINISHED = { 'waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying' }
local flat = redis.call('HGETALL', metaKey)
local meta = {}
for i = 1, #flat, 2 do
  meta[flat[i]] = flat[i + 1]
end
check_schema(meta.schema)
read_clock()
local reply = {}
for _, state in ipairs(STATES) do
  reply[#reply + 1] = state
  reply[#reply + 1] = tonumber(meta['count:' .. state] or '0')
end
reply[#reply + 1] = 'completedTotal'
reply[#reply + 1] = tonumber(meta['total:completed'] or '0')
reply[#reply + 1] = 'failedTotal'
reply[#reply + 1] = tonumber(meta['total:failed'] or '0')
local paused = {}
for queue in string.gmatch(meta.pausedQueues or '', '[^,]+') do
  paused[#paused + 1] = queue
end
reply[#reply + 1] = 'pausedQueues'
reply[#reply + 1] = paused

-- Named queues' counts, and what is left of each state's count for `default`.
local named, names = {}, {}
local rest = {}
for _, state in ipairs(UNFINISHED) do
  rest[state] = tonumber(meta['count:' .. state] or '0')
end
for field, value in pairs(meta) do
  local queue, state = string.match(field, '^qcount:(.+):(%a+)$')
  if queue and rest[state] then
    if not named[queue] then
      named[queue] = {}
      names[#names + 1] = queue
    end
    named[queue][state] = tonumber(value)
    rest[state] = rest[state] - tonumber(value)
  end
end
named.default = rest
names[#names + 1] = 'default'
table.sort(names)
local queues = {}
for _, queue in ipairs(names) do
  for _, state in ipairs(UNFINISHED) do
    queues[#queues + 1] = { queue, state, named[queue][state] or 0 }
  end
end
reply[#reply + 1] = 'queues'
reply[#reply + 1] = queues

local stale_before = now - tonumber(meta.nodeTimeoutMs or '0')
local seen_at = {}
local seen = redis.call('ZRANGE', seenKey, 0, -1, 'WITHSCORES')
for i = 1, #seen, 2 do
  seen_at[seen[i]] = tonumber(seen[i + 1])
end
local nodes = redis.call('HGETALL', nodesKey)
local ids, records = {}, {}
for i = 1, #nodes, 2 do
  ids[#ids + 1] = nodes[i]
  records[nodes[i]] = cmsgpack.unpack(nodes[i + 1])
end
table.sort(ids)
local rows = {}
for _, id in ipairs(ids) do
  local r = records[id]
  rows[#rows + 1] = { 'id', id, 'inflight', r[3], 'capacity', r[2], 'stale', (seen_at[id] or 0) < stale_before and 1 or 0 }
end
reply[#reply + 1] = 'nodes'
reply[#reply + 1] = rows

-- The head of `ready` and its record, as stored: a run-at time equal to the enqueue time is 0.
local age = 0
local head = redis.call('ZRANGE', readyKey, 0, 0)
if head[1] then
  local packed = redis.call('HGET', taskKey, head[1])
  if packed then
    local record = cmsgpack.unpack(packed)
    age = math.max(0, now - math.max(record[R_ENQUEUED_AT], record[R_RUN_AT]))
  end
end
reply[#reply + 1] = 'oldestReadyAgeMs'
reply[#reply + 1] = age
reply[#reply + 1] = 'now'
reply[#reply + 1] = now
return reply
