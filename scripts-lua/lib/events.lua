--- @lib events
--- @include "lib/config"
-- The event stream is capped (approximately, so trimming stays cheap) at the configured
-- length; a length of 0 turns events off for the whole namespace.
local function emit(kind, task_id, node_id, detail)
  if config.eventsMaxLen > 0 then
    redis.call('XADD', eventsKey, 'MAXLEN', '~', config.eventsMaxLen, '*',
      'type', kind, 'task', task_id or '', 'node', node_id or '', 'detail', detail or '')
  end
end
