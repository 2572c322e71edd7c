-- ingest.lua: wrk script of the ingest benchmark (bench/ingest.sh).
--
-- Usage: wrk -t T -c C -d Ns --latency -s bench/ingest.lua URL -- MODE ARG
--   MODE "files": ARG is the prefix written by gen_requests; thread t maps ARG.t.idx / ARG.t.dat
--                 (LuaJIT FFI mmap, so init() costs ~nothing) and sends its slice in order.
--   MODE "get":   ARG is a path; every request is "GET ARG" (the HTTP ceiling).
-- Both modes define request() and response(), so every phase pays the same Lua cost in wrk.
--
-- Accounting: request() records each request number it hands out in `pending`; response()
-- removes the number echoed in X-Request-Id and counts the status. What is left in `pending`
-- after the run was sent (or handed to wrk's request check) but never answered: wrk stopped
-- while it was in flight. done() prints one "BENCHRESULT key=value ..." line for the driver.
-- A thread that runs out of pre-generated requests starts over (counted in `wraps`): the
-- repeats are duplicates, so the driver treats any wrap as an error.

local ffi = require("ffi")
ffi.cdef [[
int open(const char *path, int flags, ...);
int close(int fd);
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
]]

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local PROT_READ, MAP_PRIVATE, MAP_POPULATE = 1, 2, 0x8000

local function map_file(path)
   local f = assert(io.open(path, "rb"))
   local size = f:seek("end")
   f:close()
   local fd = ffi.C.open(path, 0)
   assert(fd >= 0, "cannot open " .. path)
   local p = ffi.C.mmap(nil, size, PROT_READ, MAP_PRIVATE + MAP_POPULATE, fd, 0)
   ffi.C.close(fd)
   assert(ffi.cast("intptr_t", p) ~= -1, "cannot map " .. path)
   return ffi.cast("const char *", p), size
end

function init(args)
   mode, arg = args[1], args[2]
   sent, acked, non2xx, unknown, wraps = 0, 0, 0, 0, 0
   statuses, pending = {}, {}
   if mode == "get" then
      local req = wrk.format("GET", arg, { ["User-Agent"] = "synkro-bench" })
      count, first, pos = 0, 0, 0
      request = function()
         sent = sent + 1
         return req
      end
      return
   end
   local prefix = arg .. "." .. tostring(tid)
   idx_ptr = map_file(prefix .. ".idx")
   dat_ptr = map_file(prefix .. ".dat")
   idx = ffi.cast("const uint64_t *", idx_ptr)
   first, count = tonumber(idx[0]), tonumber(idx[1])
   off = idx + 2
   pos = 0
end

function request()
   if pos >= count then
      pos = 0
      wraps = wraps + 1
   end
   local a, b = tonumber(off[pos]), tonumber(off[pos + 1])
   pending[first + pos] = true
   pos = pos + 1
   sent = sent + 1
   return ffi.string(dat_ptr + a, b - a)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      acked = acked + 1
   else
      non2xx = non2xx + 1
   end
   statuses[status] = (statuses[status] or 0) + 1
   if mode ~= "get" then
      local id = headers["X-Request-Id"]
      local g = id and tonumber(string.match(id, "(%d+)$"))
      if g and pending[g] then
         pending[g] = nil
      else
         unknown = unknown + 1
      end
   end
end

function done(summary, latency, requests)
   local t = { sent = 0, acked = 0, non2xx = 0, unknown = 0, wraps = 0 }
   local pend, stat = {}, {}
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (thread:get(k) or 0)
      end
      for g, _ in pairs(thread:get("pending") or {}) do
         table.insert(pend, g)
      end
      for s, n in pairs(thread:get("statuses") or {}) do
         stat[s] = (stat[s] or 0) + n
      end
   end
   table.sort(pend)
   local st = {}
   for s, n in pairs(stat) do
      table.insert(st, tostring(s) .. ":" .. tostring(n))
   end
   table.sort(st)
   local e = summary.errors
   io.write(string.format(
      "BENCHRESULT duration_us=%d requests=%d status_errors=%d connect=%d read=%d write=%d"
         .. " timeout=%d p50_us=%d p99_us=%d max_us=%d sent=%d acked=%d non2xx=%d unknown=%d"
         .. " wraps=%d statuses=%s pending=%s\n",
      summary.duration, summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, t.sent, t.acked, t.non2xx,
      t.unknown, t.wraps, #st > 0 and table.concat(st, ",") or "-",
      #pend > 0 and table.concat(pend, ",") or "-"))
end
