--- @lib record
-- A task is one field of the namespace's `task` hash: its id maps to a MessagePack array in
-- the field order below. One hash entry per task keeps a waiting task small and lets a
-- script reach any task without building a key name. The list of a task's dependencies is
-- kept apart, in the `deps` hash, because a record is rewritten at every transition and a
-- fan-in task's list can be long; R_HAS_DEPENDENTS says whether anything waits on the task,
-- so finishing a task nobody waits for costs no look-up. R_HOLDS_PARENTS is 1 while edges to
-- the task's parents are kept that R_UNMET no longer counts (lib/lifecycle), and absent
-- otherwise, so most records do not grow by it. R_PROGRESS is the last progress the handler of
-- the current (or last) attempt reported (report-progress), absent until one reports and
-- cleared when an attempt starts; a record that holds it stores R_HOLDS_PARENTS as 0 when it
-- is absent, so the record stays a MessagePack array (a hole would make it a map). R_GROUP is
-- the task's group (enqueue's `group`, lib/dispatch), absent when it has none; a record that
-- holds it stores an absent R_PROGRESS as false, for the same reason.
local R_STATE, R_PRIORITY, R_SEQ, R_QUEUE, R_MAX_ATTEMPTS, R_BACKOFF, R_BACKOFF_MS = 1, 2, 3, 4, 5, 6, 7
local R_BACKOFF_CAP_MS, R_LEASE_MS, R_ON_DEPENDENCY_FAILURE, R_UNMET, R_HAS_DEPENDENTS = 8, 9, 10, 11, 12
local R_ENQUEUED_AT, R_RUN_AT, R_ATTEMPTS, R_LOST, R_NODE, R_TOKEN, R_ASSIGNED_AT = 13, 14, 15, 16, 17, 18, 19
local R_STARTED_AT, R_FINISHED_AT, R_CANCEL_REQUESTED, R_PAYLOAD, R_RESULT, R_ERROR = 20, 21, 22, 23, 24, 25
local R_REASON, R_HOLDS_PARENTS, R_PROGRESS, R_GROUP = 26, 27, 28, 29

-- Ready tasks are ordered by priority (higher first), then by enqueue order. Both fit one
-- exact double: priorities span 2001 values and sequence numbers stay below 2^40.
local function ready_score(record)
  return (1000 - record[R_PRIORITY]) * 1099511627776 + record[R_SEQ]
end

-- Stored records spell their most common words in one letter and leave out what equals its
-- default (queue "default", a run-at time equal to the enqueue time), which keeps a waiting
-- task's hash entry a size class smaller. Everywhere else the record holds the full words.
local STATE_CODES = {
  waiting = 'w', delayed = 'd', ready = 'r', assigned = 'a', running = 'n', retrying = 't',
  completed = 'c', dead = 'x', canceled = 'k',
}
-- Spelled out rather than built from STATE_CODES by a loop, which every call would run again.
local STATE_NAMES = {
  w = 'waiting', d = 'delayed', r = 'ready', a = 'assigned', n = 'running', t = 'retrying',
  c = 'completed', x = 'dead', k = 'canceled',
}
-- Every code stands for one word only (states lower case, choices upper case), so a stored
-- record reads unambiguously by itself.
local CHOICE_CODES = { exponential = 'E', fixed = 'F', fail = 'D', run = 'R' }
local BACKOFF_NAMES = { E = 'exponential', F = 'fixed' }
local ON_FAILURE_NAMES = { D = 'fail', R = 'run' }

local function decode_task(packed)
  local record = cmsgpack.unpack(packed)
  record[R_STATE] = STATE_NAMES[record[R_STATE]]
  record[R_BACKOFF] = BACKOFF_NAMES[record[R_BACKOFF]]
  record[R_ON_DEPENDENCY_FAILURE] = ON_FAILURE_NAMES[record[R_ON_DEPENDENCY_FAILURE]]
  if record[R_QUEUE] == '' then
    record[R_QUEUE] = 'default'
  end
  if record[R_RUN_AT] == 0 then
    record[R_RUN_AT] = record[R_ENQUEUED_AT]
  end
  if record[R_HOLDS_PARENTS] == 0 then
    record[R_HOLDS_PARENTS] = nil
  end
  if record[R_PROGRESS] == false then
    record[R_PROGRESS] = nil
  end
  return record
end

-- Packs with the short spellings in place, then puts the full words back.
local function encode_task(record)
  local state, backoff, on_failure, queue, run_at =
    record[R_STATE], record[R_BACKOFF], record[R_ON_DEPENDENCY_FAILURE], record[R_QUEUE], record[R_RUN_AT]
  record[R_STATE] = STATE_CODES[state]
  record[R_BACKOFF] = CHOICE_CODES[backoff]
  record[R_ON_DEPENDENCY_FAILURE] = CHOICE_CODES[on_failure]
  if queue == 'default' then
    record[R_QUEUE] = ''
  end
  if run_at == record[R_ENQUEUED_AT] then
    record[R_RUN_AT] = 0
  end
  local holds_parents, progress = record[R_HOLDS_PARENTS], record[R_PROGRESS]
  if holds_parents == nil and (progress ~= nil or record[R_GROUP] ~= nil) then
    record[R_HOLDS_PARENTS] = 0
  end
  if progress == nil and record[R_GROUP] ~= nil then
    record[R_PROGRESS] = false
  end
  local packed = cmsgpack.pack(record)
  record[R_HOLDS_PARENTS], record[R_PROGRESS] = holds_parents, progress
  record[R_STATE], record[R_BACKOFF], record[R_ON_DEPENDENCY_FAILURE], record[R_QUEUE], record[R_RUN_AT] =
    state, backoff, on_failure, queue, run_at
  return packed
end

-- Records read or written during a call stay decoded here, and each changed one is encoded
-- and written once, when the call commits: a task that moves through several states in one
-- call (enqueued, assigned, started) costs one write, and the writes go out as one HSET.
local task_cache = {}
local dirty_tasks = {}
-- Field/value pairs per HSET: well below Lua's limit on unpack().
local HSET_CHUNK = 2000

local function load_task(id)
  local record = task_cache[id]
  if record == nil then
    local packed = redis.call('HGET', taskKey, id)
    record = packed and decode_task(packed) or false
    task_cache[id] = record
  end
  return record or nil
end

local function save_task(id, record)
  task_cache[id] = record
  dirty_tasks[id] = true
end

-- The task is being deleted: nothing of it may be written back.
local function forget_task(id)
  task_cache[id] = false
  dirty_tasks[id] = nil
end

local function flush_tasks()
  local pairs_list = {}
  for id in pairs(dirty_tasks) do
    pairs_list[#pairs_list + 1] = id
    pairs_list[#pairs_list + 1] = encode_task(task_cache[id])
  end
  dirty_tasks = {}
  for i = 1, #pairs_list, 2 * HSET_CHUNK do
    redis.call('HSET', taskKey, unpack(pairs_list, i, math.min(i + 2 * HSET_CHUNK - 1, #pairs_list)))
  end
end
