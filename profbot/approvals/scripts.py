"""The Lua scripts behind the change-request store (profbot/approvals/store.py): each move that
must happen whole, in one step on the Redis server."""

# Append the audit event that goes with a write (ARGV from ``first``: the stream's length, then
# the event's fields) to the audit stream, as profbot.audit.AuditLog does (the same entries, the
# same trimming); before the request or its holds are written, so a failing XADD leaves the
# request as it was.
_AUDIT = """
local function audit(stream, first)
  if #ARGV > first then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[first], '*', unpack(ARGV, first + 1))
  end
end
"""

# File a request: a pending one unless the same change on the same target is open (that one's id
# is the answer) or another request holds something it touches (the holder's id is the answer). A
# request holds every container or volume its plan touches (KEYS[7..]); besides, each is listed
# on its host (KEYS[4], scored by when its hold ends) unless it touches the whole host, which it
# then holds (KEYS[5]): it needs the host's list empty, and the others need it free. All in one
# script, so two requests filed at once cannot both get what they touch. Stored, it is audited
# (ARGV[11..], KEYS[6]) in the same script.
CREATE = (
    _AUDIT
    + """
if ARGV[5] == '1' then
  local same = redis.call('GET', KEYS[1])
  if same then return same end
  local wide = redis.call('GET', KEYS[5])
  if wide then return wide end
  if ARGV[10] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[9])
    local first = redis.call('ZRANGE', KEYS[4], 0, 0)
    if first[1] then return first[1] end
  end
  for i = 7, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder then return holder end
  end
end
audit(KEYS[6], 11)
if ARGV[5] == '1' then
  local hold = tonumber(ARGV[6]) + tonumber(ARGV[7])
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[6])
  if ARGV[10] == '1' then
    redis.call('SET', KEYS[5], ARGV[1], 'EX', hold)
  else
    redis.call('ZADD', KEYS[4], tonumber(ARGV[9]) + hold, ARGV[1])
    if redis.call('TTL', KEYS[4]) < hold then redis.call('EXPIRE', KEYS[4], hold) end
  end
  for i = 7, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', hold) end
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'doc', ARGV[3], 'version', 0)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return ARGV[1]
"""
)


# Write a request's new state and document if nobody wrote it since we read it (its version): 0
# when somebody did. When it leaves its pending states, free the "one open request per change and
# target" key. Starting it (ARGV[6] 'start') needs everything it holds still its own or free (a
# pending hold lapses a little after the request's expiry, and another request may have taken it):
# -1, nothing written, when another has it. While it runs, keep holding; once final, let go. Its
# audit event (ARGV[10..], KEYS[5]) is written with it, in the same script: a move is never left
# unaudited, nor an event written for a move refused.
TRANSITION = (
    _AUDIT
    + """
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[3] then return 0 end
local id, wide = ARGV[5], ARGV[9] == '1'
local function free_or_ours(key)
  local holder = redis.call('GET', key)
  return (not holder) or holder == id
end
if ARGV[6] == 'start' then
  if not free_or_ours(KEYS[4]) then return -1 end
  for i = 6, #KEYS do
    if not free_or_ours(KEYS[i]) then return -1 end
  end
  if wide then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
    if redis.call('ZCARD', KEYS[3]) > 0 then return -1 end
  end
end
audit(KEYS[5], 10)
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'doc', ARGV[2], 'version', tonumber(version) + 1)
if ARGV[4] == '0' and redis.call('GET', KEYS[2]) == id then redis.call('DEL', KEYS[2]) end
if ARGV[6] == 'start' or ARGV[6] == 'running' then
  local hold = tonumber(ARGV[7])
  if wide then
    if free_or_ours(KEYS[4]) then redis.call('SET', KEYS[4], id, 'EX', hold) end
  else
    redis.call('ZADD', KEYS[3], tonumber(ARGV[8]) + hold, id)
    if redis.call('TTL', KEYS[3]) < hold then redis.call('EXPIRE', KEYS[3], hold) end
  end
  for i = 6, #KEYS do
    if free_or_ours(KEYS[i]) then redis.call('SET', KEYS[i], id, 'EX', hold) end
  end
elseif ARGV[6] == 'final' then
  if redis.call('GET', KEYS[4]) == id then redis.call('DEL', KEYS[4]) end
  redis.call('ZREM', KEYS[3], id)
  for i = 6, #KEYS do
    if redis.call('GET', KEYS[i]) == id then redis.call('DEL', KEYS[i]) end
  end
end
return 1
"""
)

# Record one execution of a change on a target unless the hour's budget is spent.
COOLDOWN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
