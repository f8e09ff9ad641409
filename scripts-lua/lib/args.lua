--- @lib args
--- @include "lib/fail"
-- The argument checks behind the prelude that codegen writes from each script's header (see
-- codegen/prelude.ts). Every check takes the raw ARGV string and the argument's name, returns
-- the Lua value, and otherwise raises `TM_BAD_ARGUMENT <name>: <what is wrong>`. A nil value
-- means the caller sent too few arguments. Only the prelude calls these; bodies get the values.
-- Each is a top-level local function (names prefixed args_ / arg_, so they cannot clash with an
-- argument's name), so codegen leaves out the ones a script's prelude never calls.

-- Values are quoted in messages, cut to this many bytes so an error stays one short line.
local ARG_SHOWN_BYTES = 40
local ARG_ID_PATTERN = '^[A-Za-z0-9_.:%-]+$'
local ARG_ID_TEXT = '1 to 128 characters of A-Z a-z 0-9 _ . : -'

-- Group fields are named like tasks[3].priority. Building that name for every field of every
-- element would cost more than the checks, so the prelude records the element being checked
-- and the name is only put together when a check fails.
local arg_group_name, arg_group_index = nil, nil

local function args_enterGroup(name, index)
  arg_group_name, arg_group_index = name, index
end

local function args_leaveGroup()
  arg_group_name, arg_group_index = nil, nil
end

local function arg_label(name)
  if arg_group_name then
    return arg_group_name .. '[' .. arg_group_index .. '].' .. name
  end
  return name
end

-- Quotes a value for a message: cut short, with control and non-ASCII bytes as \xNN so the
-- reply stays one printable line.
local function arg_show(value, max_bytes)
  max_bytes = max_bytes or ARG_SHOWN_BYTES
  local shown = value
  if #shown > max_bytes then
    shown = string.sub(shown, 1, max_bytes)
  end
  shown = string.gsub(shown, '[%c"\\\128-\255]', function(c)
    return string.format('\\x%02x', string.byte(c))
  end)
  if #value > max_bytes then
    return '"' .. shown .. '"...'
  end
  return '"' .. shown .. '"'
end

local function arg_reject(name, expected, value)
  fail('TM_BAD_ARGUMENT', arg_label(name) .. ': expected ' .. expected .. ', got ' .. arg_show(value))
end

local function arg_require_value(value, name)
  if value == nil then
    fail('TM_BAD_ARGUMENT', arg_label(name) .. ': missing')
  end
end

local function arg_is_id(value)
  return #value >= 1 and #value <= 128 and string.find(value, ARG_ID_PATTERN) ~= nil
end

-- A decimal integer of at most 16 digits (so it converts to a double exactly), no sign but an
-- optional '-', and not -0: tostring(-0) is '-0' in Lua, which would leak into stored values.
local function arg_parse_integer(value)
  if not string.find(value, '^%-?%d+$') then
    return nil
  end
  local negative = string.sub(value, 1, 1) == '-'
  if #value - (negative and 1 or 0) > 16 then
    return nil
  end
  local n = tonumber(value)
  if negative and n == 0 then
    return nil
  end
  return n
end

local function args_integer(value, name, min, max)
  arg_require_value(value, name)
  local n = arg_parse_integer(value)
  if n == nil or n < min or n > max then
    arg_reject(name, 'an integer from ' .. string.format('%d', min) .. ' to ' .. string.format('%d', max), value)
  end
  return n
end

-- Plain decimals only: no exponent, no leading '.', no 'inf' or 'nan', and at most 40
-- characters, which keeps every accepted value finite.
local function args_number(value, name, min, max)
  arg_require_value(value, name)
  local n = nil
  if #value <= 40 and (string.find(value, '^%-?%d+$') or string.find(value, '^%-?%d+%.%d+$')) then
    n = tonumber(value)
    if n == 0 and string.sub(value, 1, 1) == '-' then
      n = nil
    end
  end
  if n == nil or n < min or n > max then
    arg_reject(name, 'a decimal number from ' .. tostring(min) .. ' to ' .. tostring(max), value)
  end
  return n
end

local function args_id(value, name)
  arg_require_value(value, name)
  if not arg_is_id(value) then
    arg_reject(name, ARG_ID_TEXT, value)
  end
  return value
end

local function args_string(value, name, min, max)
  arg_require_value(value, name)
  if #value < min or #value > max then
    fail('TM_BAD_ARGUMENT', arg_label(name) .. ': expected ' .. min .. ' to ' .. max .. ' bytes, got ' .. #value
      .. ' bytes: ' .. arg_show(value))
  end
  return value
end

local function args_bytes(value, name)
  arg_require_value(value, name)
  return value
end

local function args_enum(value, name, allowed)
  arg_require_value(value, name)
  for i = 1, #allowed do
    if allowed[i] == value then
      return value
    end
  end
  arg_reject(name, 'one of ' .. table.concat(allowed, ', '), value)
end

local function args_boolean(value, name)
  arg_require_value(value, name)
  if value == '1' then
    return true
  elseif value == '0' then
    return false
  end
  arg_reject(name, '1 or 0', value)
end

-- Comma-separated ids; the empty string is the empty list.
local function args_idlist(value, name, max)
  arg_require_value(value, name)
  local ids = {}
  if value == '' then
    return ids
  end
  local count = 0
  for element in string.gmatch(value .. ',', '([^,]*),') do
    count = count + 1
    if count > max then
      fail('TM_BAD_ARGUMENT', arg_label(name) .. ': expected at most ' .. max .. ' comma-separated ids, got more')
    end
    if not arg_is_id(element) then
      arg_reject(name .. '[' .. count .. ']', ARG_ID_TEXT, element)
    end
    ids[count] = element
  end
  return ids
end

-- Comma-separated references to tasks of other partitions, `<partition>/<id>`; the empty string
-- is the empty list. The partition has no leading zeros, so one task has one spelling, and `/`
-- cannot occur in an id, so a reference never reads as an id of this partition.
local function args_reflist(value, name, max)
  arg_require_value(value, name)
  local refs = {}
  if value == '' then
    return refs
  end
  local count = 0
  for element in string.gmatch(value .. ',', '([^,]*),') do
    count = count + 1
    if count > max then
      fail('TM_BAD_ARGUMENT', arg_label(name) .. ': expected at most ' .. max .. ' comma-separated references, got more')
    end
    local partition, id = string.match(element, '^(%d+)/(.*)$')
    if not partition or #partition > 4 or (#partition > 1 and string.sub(partition, 1, 1) == '0') or not arg_is_id(id) then
      arg_reject(name .. '[' .. count .. ']', '<partition>/<id>: a partition from 0 to 9999 without leading zeros, then ' ..
        ARG_ID_TEXT, element)
    end
    refs[count] = element
  end
  return refs
end

-- The ids of one group field over all the group's elements together (`idlist[max,total]`).
local function args_idlistTotal(count, name, total)
  if count > total then
    fail('TM_BAD_ARGUMENT', name .. ': expected at most ' .. total .. ' ids in all, got ' .. count)
  end
end

-- `?` in the header: an empty string (or a value left off the end of ARGV) is nil; anything
-- else goes through the check.
local function args_optional(value, name, check, ...)
  if value == '' or value == nil then
    return nil
  end
  return check(value, name, ...)
end

local function args_keys(count, expected)
  if count ~= expected then
    fail('TM_BAD_ARGUMENT', 'keys: expected ' .. expected .. ', got ' .. count)
  end
end

-- KEYS are exactly the declared keys of one namespace, in order (see codegen/prelude.ts). The
-- first names the namespace: its prefix is that key less its declared name. Returns the prefix;
-- the prelude then compares every other key with prefix .. name, one string comparison each,
-- and only when one differs calls this again with all the names, to say which key is wrong.
local function args_namespace(keys, expected, first, names)
  if #keys ~= expected then
    fail('TM_BAD_ARGUMENT', 'keys: expected ' .. expected .. ', got ' .. #keys)
  end
  local key = keys[1]
  if #key <= #first or string.sub(key, -#first) ~= first then
    fail('TM_BAD_ARGUMENT', 'keys[1]: expected a key ending in "' .. first .. '", got ' .. arg_show(key, 200))
  end
  local prefix = string.sub(key, 1, #key - #first)
  if names then
    for i = 2, #names do
      if keys[i] ~= prefix .. names[i] then
        fail('TM_BAD_ARGUMENT', 'keys[' .. i .. ']: expected "' .. prefix .. names[i] .. '", got ' .. arg_show(keys[i], 200))
      end
    end
  end
  return prefix
end

-- `reply` is TYPE of keys[i]: absent, or the Redis type the header declares.
local function args_keyType(keys, i, reply, expected)
  local actual = reply.ok or reply
  if actual ~= 'none' and actual ~= expected then
    fail('TM_WRONG_TYPE', 'keys[' .. i .. ']: ' .. arg_show(keys[i], 200) .. ' holds a ' .. actual .. ', expected a '
      .. expected .. ' (written by something other than taskmill?)')
  end
end

-- Scripts without a group take exactly their declared arguments; too few is reported by the
-- first missing one, by name.
local function args_count(count, expected)
  if count > expected then
    fail('TM_BAD_ARGUMENT', 'arguments: expected ' .. expected .. ', got ' .. count)
  end
end

-- The rest of ARGV is `remaining` values, which must be whole groups of `size` fields.
local function args_groupCount(remaining, name, size, min, max, fields)
  local count = remaining / size
  if remaining < 0 or remaining % size ~= 0 or count < min or count > max then
    fail('TM_BAD_ARGUMENT', name .. ': expected ' .. min .. ' to ' .. max .. ' groups of ' .. size
      .. ' values (' .. fields .. '), got ' .. remaining .. ' values')
  end
  return count
end
