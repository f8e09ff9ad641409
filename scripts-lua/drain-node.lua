--- @script drain-node
--- @version 3
--- @summary Takes a node out of the dispatch rotation for a graceful shutdown: it is given no new task, its assigned tasks not yet started go back to ready, and the tasks it runs stay its own until it completes, fails or releases them.
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
--- @arg nodeId id The node that is stopping.
--- @reply integer
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_NODE
--- @include "lib/maintenance"
-- Cost: O(log n) in the nodes for the node's place in `free`, plus one hand-back per assigned
-- task of the node (each O(log n) in the ready set), plus what a hand-back makes dispatch do.
--
-- A draining node keeps its record, its heartbeat and its running tasks, with a capacity of 0:
-- it has no free slot however many of its tasks end, so `free` never holds it again and neither
-- a new task nor one it hands back with `release` goes to it (a hand-back frees a slot, and
-- with its old capacity the node would be the first in line for the very task it gave up).
-- `stats` shows its capacity as 0. register-node gives it a capacity again; deregister-node
-- removes it.
open_namespace()
local node = require_node(nodeId)
mark_seen(nodeId)
local limit = node.capacity + node.inflight + 1000
node.capacity = 0
touch_node(node)
place_node(node)
local handed_back = 0
for _, member in ipairs(node_tasks(assignedKey, nodeId, limit)) do
  local id = string.sub(member, #nodeId + 2)
  local record = load_task(id)
  if record and record[R_NODE] == nodeId and record[R_STATE] == 'assigned' then
    hand_back(id, record)
    handed_back = handed_back + 1
  end
end
settle_dependents()
maintain_if_due(100)
dispatch()
commit()
return handed_back
