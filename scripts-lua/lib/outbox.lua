--- @lib outbox
--- @include "lib/record"
--- @include "lib/config"
-- Dependencies across partitions. A partition is a full key set with a hash tag of its own, so
-- no script reaches two of them. When task C of partition B depends on task X of partition A,
-- X's outcome travels from A to B:
--   in A  a remote edge "X>/<B>" in `edges`, written by watch-dependency before C is enqueued
--         in B: one per parent and partition, however many children B has. Like any edge it
--         marks X as having dependents, so X's end goes through propagation, which turns the
--         edge into an outbox entry (settle_remote_edge) and drops it, so it does not hold X.
--         watch-dependency of an X that has finished already writes the outbox entry at once.
--   the outbox  `outbox` "<B>>X" -> X's packed outcome (state and result: a copy, so retention
--         may remove X before the outcome has travelled), and `relay` "<B>>X" by when a relay
--         may take it: 0 while due. claim-relay takes due entries and moves their score to the
--         end of a relay lease, which is also the claim's token; deliver-outcome applies them in
--         B; ack-relay removes an entry only while its score is still that token. A relay that
--         dies half way leaves its entries to be taken again when the lease ends, and an entry
--         written again meanwhile (a later watch) is due again and outlives the old claim's ack.
--   in B  a proxy of X: a record in `task` under the id "<A>/X" (`/` cannot occur in a task
--         id), which C waits on through an ordinary edge "<A>/X>C" (enqueue's remoteDependsOn).
--         A proxy is never ready and never dispatched; it is `waiting` until the outcome comes,
--         then completed, dead or canceled with X's result, and its children are settled by
--         propagation by the usual rules. It is in no state count and writes no events, and it
--         is retained and swept like a finished task (it shares `done` and `dead`, so a count
--         cap counts proxies too). An outcome that comes a second time finds the proxy settled
--         and changes nothing.
-- The outcome may reach B before C's enqueue does (X finished between watch and enqueue, or
-- had finished before). deliver-outcome then creates the proxy settled and retains it as if it
-- had finished PROXY_HOLD_MS later, so that the enqueue finds it and settles C at once.
-- Every call that queues outcomes wakes the namespace's timer node with `due`; the heartbeat
-- tells every node how many outbox entries are due (`relay`), so one that a lease left behind
-- is taken by the next node that reports in.
local PROXY_HOLD_MS = 3600000

-- Woken once per call, however many outcomes the call queues.
local relay_announced = false

local function is_proxy(id)
  return string.find(id, '/', 1, true) ~= nil
end

-- A proxy is a task record with nothing of a task but its state and, once settled, its result
-- and the time the outcome arrived.
local function new_proxy(state)
  return { state, 0, 0, 'default', 1, 'fixed', 0, 0, 0, 'fail', 0, 0, now, now, 0, 0, '', 0, 0, 0, 0, 0, '', '', '', '' }
end

-- The outcome of finished task `id` goes to the outbox for the partition `partition`. Writing
-- an entry again makes it due again (see the note above).
local function queue_outcome(partition, id, record)
  local member = partition .. '>' .. id
  local result = record[R_STATE] == 'completed' and record[R_RESULT] or ''
  redis.call('HSET', outboxKey, member, cmsgpack.pack({ STATE_CODES[record[R_STATE]], result }))
  redis.call('ZADD', relayKey, 0, member)
  if not relay_announced and config.timerNode ~= '' then
    relay_announced = true
    redis.call('SPUBLISH', wakeKey .. config.timerNode, 'due')
  end
end

-- Propagation met the remote edge `edge` of finished task `id`: its outcome leaves for the
-- partition the edge names, and the edge goes, since the outbox holds a copy of the outcome.
local function settle_remote_edge(id, edge, partition)
  local record = load_task(id)
  if record then
    queue_outcome(partition, id, record)
  end
  redis.call('ZREM', edgesKey, edge)
end
