--- @script get-task
--- @version 5
--- @summary Reads one task: state, attempts, node, timestamps, payload, result or error.
--- @readonly
--- @key meta hash Key-schema version, configuration and counters.
--- @key task hash Task id to its packed record.
--- @key deps hash Task id to the comma-separated ids of its dependencies.
--- @arg id id The task to read.
--- @reply nil | { id: string, state: string, priority: integer, queue: string, attempts: integer,
--- @reply   lostAttempts: integer, maxAttempts: integer, unmetDependencies: integer, dependsOn: string[],
--- @reply   remoteDependsOn?: string[], enqueuedAt: integer, runAt: integer, node?: string, token?: integer,
--- @reply   assignedAt?: integer, startedAt?: integer, finishedAt?: integer, cancelRequested: integer, payload: bytes,
--- @reply   result?: bytes, error?: string, reason?: string, progress?: string, group?: string }
--- @error TM_BAD_ARGUMENT TM_NOT_INITIALIZED TM_SCHEMA_MISMATCH
--- @include "lib/config"
--- @include "lib/record"
-- Cost: O(1): one record and its dependency list. Dependencies of other partitions are listed
-- apart, as "<partition>/<id>", as enqueue took them.
open_namespace_for_reading()
local record = load_task(id)
if not record then
  return false
end
local dependencies, remote = {}, {}
for dependency in string.gmatch(redis.call('HGET', depsKey, id) or '', '[^,]+') do
  if string.find(dependency, '/', 1, true) then
    remote[#remote + 1] = dependency
  else
    dependencies[#dependencies + 1] = dependency
  end
end
local reply = {
  'id', id, 'state', record[R_STATE], 'priority', record[R_PRIORITY], 'queue', record[R_QUEUE],
  'attempts', record[R_ATTEMPTS], 'lostAttempts', record[R_LOST], 'maxAttempts', record[R_MAX_ATTEMPTS],
  'unmetDependencies', record[R_UNMET], 'dependsOn', dependencies,
  'enqueuedAt', record[R_ENQUEUED_AT], 'runAt', record[R_RUN_AT],
  'cancelRequested', record[R_CANCEL_REQUESTED], 'payload', record[R_PAYLOAD],
}
local function optional(name, value, unset)
  if value ~= unset then
    reply[#reply + 1] = name
    reply[#reply + 1] = value
  end
end
if #remote > 0 then
  reply[#reply + 1] = 'remoteDependsOn'
  reply[#reply + 1] = remote
end
optional('node', record[R_NODE], '')
optional('token', record[R_TOKEN], 0)
optional('assignedAt', record[R_ASSIGNED_AT], 0)
optional('startedAt', record[R_STARTED_AT], 0)
optional('finishedAt', record[R_FINISHED_AT], 0)
if record[R_STATE] == 'completed' then
  optional('result', record[R_RESULT], nil)
end
optional('error', record[R_ERROR], '')
optional('reason', record[R_REASON], '')
-- The last progress the handler of the current (or last) attempt reported (report-progress).
optional('progress', record[R_PROGRESS], nil)
optional('group', record[R_GROUP], nil)
return reply
