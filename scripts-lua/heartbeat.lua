--- @script heartbeat
--- @version 8
--- @summary Keeps a node alive and its tasks' leases fresh, runs a slice of housekeeping, and tells the node which tasks it still holds and which were canceled.
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key ready zset Ready tasks, by priority then enqueue order.
--- @key ready-by-queue zset Ready tasks again, as "<queue>><score>><task>", so that the next ready task of a queue is one lexicographic range.
--- @key delayed zset Delayed and retrying tasks, by due time.
--- @key leases zset Assigned and running tasks, by lease expiry.
--- @key assigned zset Tasks assigned to a node and not started, as "<node>><task>".
--- @key running zset Tasks running on a node, as "<node>><task>".
--- @key edges zset Unsettled dependencies, as "<parent>><child>".
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @key propagation list Finished tasks whose dependents are still to be settled.
--- @key done zset Completed tasks, by finish time.
--- @key dead zset Dead and canceled tasks, by finish time.
--- @key nodes hash Worker node id to its packed record.
--- @key free zset Nodes with a free slot, in dispatch order.
--- @key seen zset Nodes by the server time of their last heartbeat.
--- @key wake channel Prefix of the nodes' wake channels.
--- @key events stream Capped event log.
--- @key outbox hash Outcomes of finished tasks waiting to be relayed to other partitions, as "<partition>><task>".
--- @key relay zset The outbox's entries by when a relay may take them.
--- @arg nodeId id The node reporting in.
--- @arg maintenanceLimit integer[0,250]=100 Most housekeeping items this call handles over all steps (see maintain).
--- @reply { running: string[], tokens: integer[], cancel: string[], assigned: integer, ready: integer, nextDueAt: integer,
--- @reply   more: integer, relay: integer, now: integer }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_NODE
--- @include "lib/maintenance"
-- Cost: O(log n) plus the node's own tasks (one record read and one lease write each); with
-- nothing due and nothing ready, a handful of commands whatever the size of the namespace.
-- Past a backlog of queues no free node serves, at most 16 look-ups of the node's queues in
-- `ready-by-queue`, O(log T) each (lib/dispatch). `relay` counts the outbox entries due for
-- relay to other partitions (lib/outbox), one O(log n) ZCOUNT: when it is not 0, the node runs
-- claim-relay, deliver-outcome and ack-relay.
open_namespace()
local node = require_node(nodeId)
mark_seen(nodeId)
local running, tokens, cancel = {}, {}, {}
-- A draining node (drain-node) has a capacity of 0 and may still hold tasks: inflight counts them.
local limit = node.capacity + node.inflight + 1000
for _, member in ipairs(node_tasks(runningKey, nodeId, limit)) do
  local id = string.sub(member, #nodeId + 2)
  local record = load_task(id)
  if record and record[R_STATE] == 'running' and record[R_NODE] == nodeId then
    zset_add(leasesKey, now + record[R_LEASE_MS], id)
    running[#running + 1] = id
    tokens[#tokens + 1] = record[R_TOKEN]
    if record[R_CANCEL_REQUESTED] == 1 then
      cancel[#cancel + 1] = id
    end
  end
end
local assigned = node_tasks(assignedKey, nodeId, limit)
for _, member in ipairs(assigned) do
  local id = string.sub(member, #nodeId + 2)
  local record = load_task(id)
  if record and record[R_STATE] == 'assigned' then
    zset_add(leasesKey, now + record[R_LEASE_MS], id)
  end
end
-- One live node keeps the namespace's timer: it alone is told when housekeeping falls due and
-- wakes then, so a due time costs one call, not one per node. A timer node that has not been
-- seen for a third of the node timeout is replaced by the next node that reports in.
if config.timerNode ~= nodeId then
  local seen_at = config.timerNode ~= '' and redis.call('ZSCORE', seenKey, config.timerNode)
  if not seen_at or tonumber(seen_at) < now - config.nodeTimeoutMs / 3 then
    config.timerNode = nodeId
    timer_changed = true
  end
end
maintain_if_due(maintenanceLimit)
dispatch(nodeId)
commit()
local next_due = 0
if config.timerNode == nodeId and config.dueAt < NEVER then
  next_due = config.dueAt
end
-- `ready` tells a node that serves several partitions where tasks wait for a slot; `relay`, that
-- outcomes wait to be carried to other partitions.
return { 'running', running, 'tokens', tokens, 'cancel', cancel, 'assigned', #assigned,
  'ready', redis.call('ZCARD', readyKey), 'nextDueAt', next_due, 'more', housekeeping_due() and 1 or 0,
  'relay', redis.call('ZCOUNT', relayKey, '-inf', now), 'now', now }
