-- wrk script of the token cases (bench/lib/load-tokens.ts): every request presents a token taken
-- from a queue, and each token is presented exactly once.
--
--   wrk -t1 -c<n> -d<s> -s wrk-token-queue.lua <url> -- <data file>
--
-- The data file: line 1 the path, line 2 the Authorization header, line 3 the mode, then one form
-- body per line (the queue). Modes:
--   chain <prefix>  each answer's "refresh_token" goes back to the end of the queue as
--                   <prefix><token>: the next request on that chain presents it (rotation);
--   once            the queue is all there is (authorization codes: single use).
-- Every answer must say "token_type":"Bearer" and carry a refresh token never seen before (else
-- it counts as malformed or repeated; bench/lib/load-tokens.ts fails the run). When the queue is
-- empty the thread stops (codes used up; a chain lost) and says so: the rate is then taken over
-- the time it was busy, from a monotonic clock, since wrk's own duration counts the idle rest.
local ffi = require('ffi')
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new('bench_timespec')
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local queue, head, tail = {}, 1, 0
local path, headers, prefix
local seen = {}

-- Globals: done() reads them from the thread with thread:get().
answered, malformed, repeated, exhausted, left = 0, 0, 0, 0, 0
first_us, last_us = 0, 0

local function push(body)
  tail = tail + 1
  queue[tail] = body
end

init = function(args)
  local lines = io.lines(args[1])
  path = lines()
  headers = { ['Authorization'] = lines(), ['Content-Type'] = 'application/x-www-form-urlencoded' }
  local mode = lines()
  if mode:sub(1, 6) == 'chain ' then prefix = mode:sub(7) end
  for body in lines do
    push(body)
    if prefix then seen[body:sub(#prefix + 1)] = true end
  end
  left = tail - head + 1
end

request = function()
  if head > tail then
    -- Nothing left to present: stop here, sending nothing (an empty write sends no request).
    exhausted = 1
    wrk.thread:stop()
    return ''
  end
  if first_us == 0 then first_us = now_us() end
  local body = queue[head]
  queue[head] = nil
  head = head + 1
  left = tail - head + 1
  return wrk.format('POST', path, headers, body)
end

response = function(status, _, body)
  last_us = now_us()
  answered = answered + 1
  if status ~= 200 then return end -- counted by wrk as a non-2xx answer
  local token = body:match('"refresh_token":"([^"]+)"')
  if not token or not body:find('"token_type":"Bearer"', 1, true) then
    malformed = malformed + 1
    return
  end
  if seen[token] then
    repeated = repeated + 1
    return
  end
  seen[token] = true
  if prefix then
    push(prefix .. token)
    left = tail - head + 1
  end
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, _)
  local e = summary.errors
  local t = threads[1]
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%f,"cpu_s":%f,' ..
    '"answered":%d,"malformed":%d,"repeated":%d,"exhausted":%d,"left":%d,"busy_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, os.clock(),
    t:get('answered'), t:get('malformed'), t:get('repeated'), t:get('exhausted'), t:get('left'), t:get('last_us') - t:get('first_us')))
end
