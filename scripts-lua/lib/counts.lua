--- @lib counts
--- @include "lib/record"
-- Per-state task counts live in the meta hash (`count:<state>`), so stats stay O(1) however
-- many tasks there are. Moves are summed in Lua and written once per call.
local state_deltas = {}

local function set_state(record, state)
  local from = record[R_STATE]
  if from ~= '' then
    state_deltas[from] = (state_deltas[from] or 0) - 1
  end
  state_deltas[state] = (state_deltas[state] or 0) + 1
  record[R_STATE] = state
end

local function flush_counts()
  for state, delta in pairs(state_deltas) do
    if delta ~= 0 then
      redis.call('HINCRBY', metaKey, 'count:' .. state, delta)
    end
  end
  state_deltas = {}
end
