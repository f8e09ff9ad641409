--- @script start
--- @version 7
--- @summary Starts the tasks dispatch assigned to a node: each becomes running, its attempt counted and its lease restarted.
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
--- @arg nodeId id The node starting its tasks.
--- @arg max integer[1,200]=200 Most tasks to start in this call; at most 200, so that it holds Redis a few ms (about 10 µs a task).
--- @reply [id: string, token: integer, attempt: integer, payload: bytes, queue: string][]
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_NODE
--- @include "lib/claim"
--- @include "lib/maintenance"
-- Cost: O(log T) per task the node starts; a task of a rate-limited queue also moves its place in
-- the queue's log to now (lib/dispatch, Rate limits), which reads and writes the log once per call.
open_namespace()
local node = require_node(nodeId)
mark_seen(nodeId)
local started = claim_assigned(node, max)
commit()
return started
