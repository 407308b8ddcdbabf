-- wrk script: send pre-signed requests, one per line of a file:
--   METHOD \t PATH \t HEADERS \t BODY
-- where HEADERS is `name: value` pairs joined by `|` (BODY may be empty).
-- Usage: wrk -t2 -c64 -d20s --latency -s replay.lua URL -- requests.tsv 2 [repeat]
--   (the second argument must be wrk's -t, the number of threads)
--
-- Each line is sent at most once: the server refuses a signature it has already seen inside
-- its recv_window (401), so a replayed signed request would not measure order entry. setup()
-- numbers the threads 0..n-1 (thread:set); thread k sends only the lines whose number, counted
-- from 0, is k modulo n (a disjoint share), each once, in file order. wrk cannot be stopped
-- early: a thread that has sent its whole share sends GET /api/v1/health instead and counts
-- those, and done() prints a `replay:` line with the count. So the benchmark must pre-sign at
-- least as many lines as a run can send (bench.py: ORDERS_PER_SECOND x seconds + a margin), and
-- bench.py reports a run as `exhausted` when a thread ran out (its requests/s would then
-- include the cheap health requests).
--
-- Loading. The requests are formatted once, before the run (about 400 bytes each in memory).
-- wrk initializes its threads one after the other, starting each as soon as it is initialized,
-- and starts its clock once all are: while a later thread loads, the earlier ones would send
-- requests outside the measured time, and their connections, if left idle for 5 s, get a 408
-- from the server. So thread 0's init, before any thread runs, reads and formats every line
-- (about 3.5 s per million on 2 idle cores), keeps its share and hands each other thread its
-- share in C memory (LuaJIT's FFI; setup() passes every thread the address of one shared
-- block). A later thread's init only copies its share into Lua strings and frees the C memory
-- (about 1.2 s per million), so each thread holds only its own share. Each thread's first
-- request waits (on a flag in the shared block) until the last thread has loaded, at most
-- 120 s. wrk also calls request() once on thread 0, from the main thread, to inspect the
-- request: that call does not wait, and its line is not sent.
--
-- With `repeat` (unsigned requests only, e.g. GET /health or /book: a few lines), every thread
-- reads all the lines itself and cycles through them from its own random offset.
local ffi = require("ffi")
ffi.cdef [[
  unsigned long pthread_self(void);
  int usleep(unsigned int usec);
  void *realloc(void *ptr, size_t size);
  void free(void *ptr);
  typedef struct {
    volatile int loaded;     /* set by the last thread's init */
    uint32_t count[256];     /* thread k's share, filled by thread 0: count[k] requests */
    char *buf[256];          /* back to back in buf[k] */
    uint32_t *len[256];      /* of lengths len[k][0 .. count[k] - 1] */
  } replay_shared;
]]
local MAX_THREADS = 256

local threads = {}
local requests = {}
local n, i = 0, 0
local cycle = false
local fallback_request, shared, main_thread
local waiting = true
id, nthreads, share, fallback = 0, 1, 0, 0

function setup(thread)
  if not shared_block then
    shared_block = ffi.new("replay_shared[1]") -- zeroed; lives in the main Lua state for the run
  end
  thread:set("shared_addr", tonumber(ffi.cast("intptr_t", shared_block)))
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local find, sub = string.find, string.sub
-- LuaJIT 2.1's string buffer (compiled: formatting is about 8 times as fast as concatenating),
-- or a table standing in for it.
local ok, buffer = pcall(require, "string.buffer")
local out = ok and buffer.new() or { parts = {} }
if not ok then
  function out:put(...)
    for k = 1, select("#", ...) do
      self.parts[#self.parts + 1] = tostring((select(k, ...)))
    end
    return self
  end
  function out:get()
    local s = table.concat(self.parts)
    self.parts = {}
    return s
  end
end

-- The line as an HTTP request: what wrk.format makes, headers in the file's order.
local function format(line, host)
  local a = find(line, "\t", 1, true)
  local b = find(line, "\t", a + 1, true)
  local c = find(line, "\t", b + 1, true)
  out:put(sub(line, 1, a - 1), " ", sub(line, a + 1, b - 1), " HTTP/1.1\r\nHost: ", host, "\r\n")
  local p = b + 1
  while p < c do
    local q = find(line, "|", p, true)
    if not q or q > c then
      q = c
    end
    out:put(sub(line, p, q - 1), "\r\n")
    p = q + 1
  end
  if c < #line then
    out:put("Content-Length: ", #line - c, "\r\n\r\n", sub(line, c + 1))
  else
    out:put("\r\n")
  end
  return out:get()
end

local function grow(ptr, ctype, bytes)
  local p = ffi.C.realloc(ptr, bytes)
  assert(p ~= nil, "replay.lua: out of memory")
  return ffi.cast(ctype, p)
end

-- Thread 0: format every line; keep share 0, append share k (k > 0) to C memory for thread k.
local function load_all(path, host)
  local own, bufs, lens, used, cap, counts = {}, {}, {}, {}, {}, {}
  for k = 1, nthreads - 1 do
    used[k], cap[k], counts[k] = 0, 1048576, 0
    bufs[k] = grow(nil, "char *", cap[k])
    lens[k] = grow(nil, "uint32_t *", 4 * 4096)
  end
  local line_no, every, count = -1, nthreads, 0
  for line in io.lines(path) do
    line_no = line_no + 1
    local k = line_no % every
    local r = format(line, host)
    if k == 0 then
      count = count + 1
      own[count] = r
    else
      local u, c = used[k], counts[k]
      if u + #r > cap[k] then
        cap[k] = 2 * (u + #r)
        bufs[k] = grow(bufs[k], "char *", cap[k])
      end
      if c % 4096 == 0 then
        lens[k] = grow(lens[k], "uint32_t *", 4 * (c + 4096))
      end
      ffi.copy(bufs[k] + u, r, #r)
      lens[k][c] = #r
      used[k], counts[k] = u + #r, c + 1
    end
  end
  for k = 1, nthreads - 1 do
    shared.buf[k], shared.len[k], shared.count[k] = bufs[k], lens[k], counts[k]
  end
  requests = own
end

-- Thread k > 0: copy share k out of C memory, and free it.
local function take_share()
  local buf, len, count = shared.buf[id], shared.len[id], shared.count[id]
  local off = 0
  for j = 0, count - 1 do
    requests[j + 1] = ffi.string(buf + off, len[j])
    off = off + len[j]
  end
  ffi.C.free(buf)
  ffi.C.free(len)
end

function init(args)
  nthreads = tonumber(args[2] or "1")
  cycle = args[3] == "repeat"
  if id >= nthreads or nthreads > MAX_THREADS then
    error(string.format("replay.lua: thread %d of %d: pass wrk's -t as the second argument", id + 1, nthreads))
  end
  shared = ffi.cast("replay_shared *", shared_addr)
  local host = wrk.headers["Host"]
  if cycle then
    for line in io.lines(args[1]) do
      requests[#requests + 1] = format(line, host)
    end
    if #requests > 0 then
      i = math.random(#requests) - 1
    end
  elseif id == 0 then
    load_all(args[1], host)
  else
    take_share()
  end
  n = #requests
  share = n
  fallback_request = format("GET\t/api/v1/health\t\t", host)
  collectgarbage()
  main_thread = ffi.C.pthread_self()
  if id == nthreads - 1 then
    shared.loaded = 1
  end
end

-- Before the first request sent: wait until every thread has loaded its share.
local function wait_for_the_others()
  if ffi.C.pthread_self() == main_thread then
    return -- wrk inspecting thread 0's request
  end
  waiting = false
  local waited = 0
  while shared.loaded == 0 and waited < 120000 do
    ffi.C.usleep(1000)
    waited = waited + 1
  end
  if shared.loaded == 0 then
    io.stderr:write("replay.lua: the last thread did not load in 120 s (is the second argument wrk's -t?)\n")
  end
end

function request()
  if waiting then
    wait_for_the_others()
  end
  if cycle then
    i = i % n + 1
    return requests[i]
  end
  if i < n then
    i = i + 1
    local r = requests[i]
    requests[i] = false -- sent (wrk copies it): let the collector have it
    return r
  end
  fallback = fallback + 1
  return fallback_request
end

function done(summary, latency, reqs)
  local lines, extra, exhausted = 0, 0, 0
  for _, t in ipairs(threads) do
    lines = lines + (t:get("share") or 0)
    local f = t:get("fallback") or 0
    extra = extra + f
    if f > 0 then
      exhausted = exhausted + 1
    end
  end
  print(string.format("replay: %d lines in %d threads, %d health requests after running out, %d threads exhausted",
    lines, #threads, extra, exhausted))
end
