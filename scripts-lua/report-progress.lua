--- @script report-progress
--- @version 1
--- @summary Stores the progress a running task's handler reports, and sends it on the event stream.
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key events stream Capped event log.
--- @arg id id The running task.
--- @arg token integer[1,9007199254740991] The assignment token the node received with the task.
--- @arg progress string[1,4096] The progress, any text of at most 4,096 bytes (the Worker sends JSON); replaces the one reported before.
--- @reply "ok"
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH TM_UNKNOWN_TASK TM_LEASE_LOST
--- @include "lib/record"
--- @include "lib/events"
-- Cost: O(1): one record read and written, one stream entry.
--
-- Accepted only while the task runs under `token`: a handler whose task was taken back (lease
-- lost, canceled, finished elsewhere) is refused with TM_LEASE_LOST, as its completion would
-- be. The value is kept on the task record (get-task's `progress`) until the next attempt
-- starts, and kept on a finished task; it does not renew the lease (the heartbeat does).
open_namespace()
local record = load_task(id)
if not record then
  fail('TM_UNKNOWN_TASK', 'id: no task "' .. id .. '" in this namespace')
end
if record[R_STATE] ~= 'running' or record[R_TOKEN] ~= token then
  fail('TM_LEASE_LOST', 'id: task "' .. id .. '" token ' .. token .. ' is not current (task is ' .. record[R_STATE] ..
    ', token ' .. record[R_TOKEN] .. '): its progress is not wanted')
end
record[R_PROGRESS] = progress
save_task(id, record)
flush_tasks()
emit('progress', id, record[R_NODE], progress)
flush_events()
return 'ok'
