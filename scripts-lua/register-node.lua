--- @script register-node
--- @version 7
--- @summary Adds a worker node to the dispatch rotation, or updates its weight, capacity and queues, then dispatches.
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
--- @arg nodeId id The node id, unique among the namespace's live nodes.
--- @arg weight integer[1,1000000]=1 The node's share of tasks relative to the other nodes.
--- @arg capacity integer[0,100000]=10 Most tasks the node holds at once (assigned plus running); 0 takes none for now (a node serving several partitions moves its slots to where tasks wait).
--- @arg queues idlist[100]= Queues the node serves; empty serves every queue.
--- @reply "joined" | "updated"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_WRONG_TYPE
--- @include "lib/maintenance"
-- Cost: O(log n), plus one TYPE per key (the prelude's check, TM_WRONG_TYPE); dispatch
-- O(log n) per task assigned to the new slots, with at most 16 queue look-ups when the head of
-- `ready` is other queues' backlog.
open_namespace()
local node = find_node(nodeId)
local outcome = 'updated'
if not node then
  outcome = 'joined'
  node = { id = nodeId, inflight = 0, pass = 0, completed = 0, failed = 0, joinedAt = now }
end
if outcome == 'joined' or node.weight ~= weight then
  node.weight = weight
  -- Half a stride after the present virtual time: a new node takes its turn among the others
  -- instead of catching up on assignments it was never there for.
  node.pass = config.vtime + math.floor(stride(node) / 2)
end
node.capacity = capacity
node.queues = table.concat(queues, ',')
-- A node with a queue list can leave tasks that no free node serves: keep `ready-by-queue`.
if #queues > 0 and not config.queueFilters then
  config.queueFilters = true
  redis.call('HSET', metaKey, 'queueFilters', 1)
end
node.queueSet = nil
add_node(node)
if outcome == 'joined' then
  emit('node-joined', nil, nodeId, 'weight ' .. weight .. ', capacity ' .. capacity)
end
maintain_if_due(100)
dispatch(nodeId)
commit()
return outcome
