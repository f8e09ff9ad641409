--- @lib claim
--- @include "lib/lifecycle"
-- A node claims the tasks dispatch assigned to it: they become running, their attempt is
-- counted and their lease restarts. The reply carries what the handler needs, so starting a
-- task costs no second round trip.
local function claim_assigned(node, max)
  local members = node_tasks(assignedKey, node.id, max)
  local started = {}
  for _, member in ipairs(members) do
    zset_remove(assignedKey, member)
    local id = string.sub(member, #node.id + 2)
    local record = load_task(id)
    if record and record[R_STATE] == 'assigned' and record[R_NODE] == node.id then
      started[#started + 1] = start_task(id, record, node.id)
    end
  end
  -- Work the node just took needs no wake-up.
  if #members < max then
    wakes[node.id] = nil
  end
  return started
end

-- Completion, failure and hand-back are accepted only from the node holding the task with
-- the current token: a worker that stalled past its lease must not undo the task's new life.
-- `index` is the task's place in a batch (named in messages), nil for a single task.
local function check_hold(index, node_id, id, token, allowed)
  local record = load_task(id)
  if not record then
    fail('TM_UNKNOWN_TASK', (index and ('results[' .. index .. ']: ') or '') .. 'no task "' .. id .. '" in this namespace')
  end
  if record[R_NODE] ~= node_id or record[R_TOKEN] ~= token or not allowed[record[R_STATE]] then
    fail('TM_LEASE_LOST', (index and ('results[' .. index .. ']: ') or '') .. 'task "' .. id .. '" token ' .. token .. ' on node ' .. node_id ..
      ' is not current (task is ' .. record[R_STATE] .. ', token ' .. record[R_TOKEN] ..
      (record[R_NODE] ~= '' and (' on node ' .. record[R_NODE]) or '') .. '): drop the task, its result is not wanted')
  end
  return record
end
