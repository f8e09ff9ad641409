--- @script list-tasks
--- @version 1
--- @summary Lists one page of the tasks in a state, newest or oldest first, optionally of one queue; the reply's cursor continues the listing.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @key ready zset Ready tasks, by priority then enqueue order.
--- @key delayed zset Delayed and retrying tasks, by due time.
--- @key leases zset Assigned and running tasks, by lease expiry.
--- @key done zset Completed tasks, by finish time.
--- @key dead zset Dead and canceled tasks, by finish time.
--- @arg state enum(waiting|delayed|ready|assigned|running|retrying|completed|dead|canceled) The state to list.
--- @arg order enum(newest|oldest)=newest Which end of the state's index to start from (ignored for waiting).
--- @arg cursor string[0,200]? Empty to start; otherwise the cursor of the previous page's reply, passed back unchanged.
--- @arg limit integer[1,1000]=100 At most this many tasks per page; a waiting page may hold more (the HSCAN note below the header).
--- @arg queue id? Only tasks of this queue.
--- @reply { tasks: [id: string, state: string, queue: string, priority: integer, attempts: integer,
--- @reply   enqueuedAt: integer, runAt: integer, finishedAt: integer, node: string][], cursor: string }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
--- @include "lib/record"
-- Cost: O(log T + 4 × limit) per call: each call looks at no more than SCAN_BUDGET_PER_ROW ×
-- limit index entries (one record read each), so a page filtered by queue, or of a state that
-- shares its index with another, may hold fewer than `limit` tasks, or none, with a cursor to
-- go on; only an empty cursor means the end.
--
-- Each state is read from the index it lives in, and an entry counts only when its record is in
-- the state asked for: `delayed` holds delayed and retrying tasks, `dead` dead and canceled
-- ones, `leases` assigned and running ones. The orders are those of the indexes: ready tasks in
-- dispatch order (oldest = the next to run), delayed and retrying by due time, assigned and
-- running by lease expiry, completed, dead and canceled by finish time.
--
-- The cursor of an indexed state is "<score>/<id>" of the last entry looked at (`/` cannot
-- occur in an id). The next call starts right after it by rank when that entry is still there
-- with that score; when it left the index, right after where it was (past its score, and past
-- the ids its equals in score sort before), so a task that stays in its state is listed exactly
-- once over the pages, and one that moves in or out meanwhile may or may not be.
--
-- Waiting tasks have no index: a task waits only on dependencies, and every task with
-- dependencies has a `deps` entry, so waiting lists `deps` with HSCAN, in no particular order
-- (`order` is ignored) and with HSCAN's guarantees (a task waiting all along is listed at
-- least once; its cursor is HSCAN's). Redis returns a small hash (listpack) whole in one
-- HSCAN, so a waiting page may hold more than `limit` tasks: at most the namespace's
-- hash-max-listpack-entries.
open_namespace_for_reading()
cursor = cursor or ''

local SCAN_BUDGET_PER_ROW = 4

local rows = {}
local budget = SCAN_BUDGET_PER_ROW * limit

local function bad_cursor(expected)
  fail('TM_BAD_ARGUMENT', 'cursor: expected ' .. expected .. ' from a previous ' .. state .. ' page, got '
    .. arg_show(cursor))
end

-- Adds the task to the page when its record is in the state (and queue) asked for.
local function consider(id)
  local record = load_task(id)
  if record and record[R_STATE] == state and (queue == nil or record[R_QUEUE] == queue) then
    rows[#rows + 1] = {
      id, state, record[R_QUEUE], record[R_PRIORITY], record[R_ATTEMPTS], record[R_ENQUEUED_AT],
      record[R_RUN_AT], record[R_FINISHED_AT], record[R_NODE],
    }
  end
  -- Records are only read here: dropping each keeps the call's memory to one page.
  task_cache[id] = nil
end

if state == 'waiting' then
  local scan_cursor = '0'
  if cursor ~= '' then
    if not string.find(cursor, '^[1-9]%d*$') or #cursor > 20 then
      bad_cursor('an HSCAN cursor')
    end
    scan_cursor = cursor
  end
  repeat
    local reply = redis.call('HSCAN', depsKey, scan_cursor, 'COUNT', limit)
    scan_cursor = reply[1]
    local entries = reply[2]
    for i = 1, #entries, 2 do
      consider(entries[i])
    end
    budget = budget - #entries / 2
  until scan_cursor == '0' or #rows >= limit or budget <= 0
  return { 'tasks', rows, 'cursor', scan_cursor == '0' and '' or scan_cursor }
end

local newest = order == 'newest'
-- Equal scores sort by id, byte by byte; Lua's `<` on strings follows the locale, so compare
-- the bytes here.
local function id_before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end
-- True when (score, id) comes after the cursor's entry in the listing's order.
local function after_cursor(score, id, cursor_score, cursor_id)
  if score ~= cursor_score then
    return (score > cursor_score) ~= newest
  end
  if newest then
    return id_before(id, cursor_id)
  end
  return id_before(cursor_id, id)
end

-- Returns the cursor of the next page, '' at the end.
local function list_index(index)
  local start = 0
  local cursor_score, cursor_id = nil, nil
  if cursor ~= '' then
    local score_text, id = string.match(cursor, '^(%-?%d+)/(.+)$')
    if not score_text or #score_text > 17 or not arg_is_id(id) then
      bad_cursor('"<score>/<id>"')
    end
    cursor_score, cursor_id = tonumber(score_text), id
    local stored = redis.call('ZSCORE', index, cursor_id)
    if stored and tonumber(stored) == cursor_score then
      if newest then
        start = redis.call('ZREVRANK', index, cursor_id) + 1
      else
        start = redis.call('ZRANK', index, cursor_id) + 1
      end
    elseif newest then
      start = redis.call('ZCOUNT', index, '(' .. score_text, '+inf')
    else
      start = redis.call('ZCOUNT', index, '-inf', '(' .. score_text)
    end
  end

  local last_score, last_id = nil, nil
  local at_end = false
  while #rows < limit and budget > 0 do
    local count = math.min(limit - #rows, budget)
    local entries
    if newest then
      entries = redis.call('ZRANGE', index, start, start + count - 1, 'REV', 'WITHSCORES')
    else
      entries = redis.call('ZRANGE', index, start, start + count - 1, 'WITHSCORES')
    end
    for i = 1, #entries, 2 do
      local id, score = entries[i], tonumber(entries[i + 1])
      -- Only the first call after a cursor whose entry left the index can meet, at its start,
      -- equals in score that the previous page already covered.
      if cursor_id == nil or after_cursor(score, id, cursor_score, cursor_id) then
        consider(id)
      end
      last_score, last_id = score, id
    end
    start = start + #entries / 2
    budget = budget - #entries / 2
    if #entries / 2 < count then
      at_end = true
      break
    end
  end

  if at_end then
    return ''
  elseif last_id then
    return string.format('%d', last_score) .. '/' .. last_id
  end
  return cursor
end

local next_cursor
if state == 'ready' then
  next_cursor = list_index(readyKey)
elseif state == 'delayed' or state == 'retrying' then
  next_cursor = list_index(delayedKey)
elseif state == 'assigned' or state == 'running' then
  next_cursor = list_index(leasesKey)
elseif state == 'completed' then
  next_cursor = list_index(doneKey)
else
  next_cursor = list_index(deadKey)
end
return { 'tasks', rows, 'cursor', next_cursor }
