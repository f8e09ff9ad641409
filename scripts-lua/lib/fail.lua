--- @lib fail
-- Raises a taskmill error. The reply's first word is the code, so every client can classify
-- it without matching prose. Raised as a table so Redis passes the text through unchanged.
local function fail(code, detail)
  error({ err = code .. ' ' .. detail })
end
