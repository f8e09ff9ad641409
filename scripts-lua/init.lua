--- @script init
--- @version 3
--- @summary Creates the scheduler of a namespace, or updates its configuration (the last init wins).
--- @key meta hash Key-schema version, configuration and counters.
--- @key nodes hash Worker node id to its packed record.
--- @key free zset Nodes with a free slot, in dispatch order.
--- @arg strategy enum(round-robin|weighted|least-loaded|random)=weighted How ready tasks are spread over worker nodes.
--- @arg payloadCap integer[0,536870912]=1048576 Largest payload accepted, in bytes.
--- @arg resultCap integer[0,536870912]=1048576 Largest result accepted, in bytes.
--- @arg keepCompletedMs integer[0,3153600000000]=86400000 How long completed tasks are kept; 0 keeps them until the count limit.
--- @arg keepCompletedCount integer[0,1000000000]=10000 How many completed tasks are kept at most; 0 means no count limit.
--- @arg keepDeadMs integer[0,3153600000000]=604800000 How long dead and canceled tasks are kept; 0 keeps them until the count limit.
--- @arg keepDeadCount integer[0,1000000000]=10000 How many dead and canceled tasks are kept at most; 0 means no count limit.
--- @arg eventsMaxLen integer[0,100000000]=10000 Approximate length of the event stream; 0 turns events off.
--- @arg nodeTimeoutMs integer[100,86400000]=15000 A node silent for this long is dropped and its tasks go back to ready.
--- @arg keepExisting boolean=0 1 leaves an existing namespace's configuration as it is (the reply is then "exists").
--- @reply "created" | "updated" | "exists"
--- @error TM_BAD_ARGUMENT TM_SCHEMA_MISMATCH TM_WRONG_TYPE
--- @include "lib/config"
-- Cost: O(1), three TYPE calls included (the prelude's check); a change of strategy re-scores
-- every node once, O(n).
local existing = redis.call('HGET', metaKey, 'schema')
if existing and existing ~= SCHEMA_VERSION then
  fail('TM_SCHEMA_MISMATCH', 'namespace holds key-schema version ' .. existing ..
    ', these scripts understand version ' .. SCHEMA_VERSION .. ': load the matching taskmill version')
end
if existing and keepExisting then
  return 'exists'
end
-- Each strategy scores the `free` set its own way, so a change of strategy re-scores every
-- node once (O(nodes), in this rare call only) and restarts the virtual clock.
local previous_strategy = existing and redis.call('HGET', metaKey, 'strategy')
if existing and previous_strategy ~= strategy then
  local flat = redis.call('HGETALL', nodesKey)
  for i = 1, #flat, 2 do
    local r = cmsgpack.unpack(flat[i + 1])
    r[4] = 0
    redis.call('HSET', nodesKey, flat[i], cmsgpack.pack(r))
    -- A silent node (lib/nodes) stays out until its next heartbeat.
    if r[3] < r[2] and r[9] ~= 1 then
      redis.call('ZADD', freeKey, strategy == 'least-loaded' and r[3] / r[1] or 0, flat[i])
    end
  end
  redis.call('HSET', metaKey, 'vtime', 0)
end
redis.call('HSET', metaKey,
  'schema', SCHEMA_VERSION,
  'strategy', strategy,
  'payloadCap', payloadCap,
  'resultCap', resultCap,
  'keepCompletedMs', keepCompletedMs,
  'keepCompletedCount', keepCompletedCount,
  'keepDeadMs', keepDeadMs,
  'keepDeadCount', keepDeadCount,
  'eventsMaxLen', eventsMaxLen,
  'nodeTimeoutMs', nodeTimeoutMs)
if existing then
  return 'updated'
end
return 'created'
