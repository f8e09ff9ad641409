--- @script deregister-node
--- @version 5
--- @summary Removes a node on graceful shutdown; tasks it still holds go back to ready without using an attempt.
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
--- @arg nodeId id The node leaving.
--- @reply integer
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_NODE
--- @include "lib/maintenance"
-- Cost: O(log n) plus the tasks the node held, each handed back.
open_namespace()
local node = require_node(nodeId)
local handed_back = 0
-- A draining node (drain-node) has a capacity of 0 and may still hold tasks: inflight counts them.
local limit = node.capacity + node.inflight + 1000
local held = node_tasks(assignedKey, nodeId, limit)
for _, member in ipairs(node_tasks(runningKey, nodeId, limit)) do
  held[#held + 1] = member
end
for _, member in ipairs(held) do
  local id = string.sub(member, #nodeId + 2)
  local record = load_task(id)
  if record and record[R_NODE] == nodeId and (record[R_STATE] == 'assigned' or record[R_STATE] == 'running') then
    hand_back(id, record)
    handed_back = handed_back + 1
  end
end
remove_node(node)
emit('node-left', nil, nodeId, handed_back .. ' tasks handed back')
settle_dependents()
maintain_if_due(100)
dispatch()
commit()
return handed_back
