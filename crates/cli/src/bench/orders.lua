-- rewardgate bench --wrk: each wrk thread sends its own share of the pre-signed orders in
-- RG_BENCH_FILE (one per line: tab-separated "Name: value" headers, then the JSON body), each once.
-- When a thread's share runs out it sends GET /healthz and says so: the run is then too short a
-- test and bench refuses its figure.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  get = wrk.format("GET", "/healthz")
  sent = 0
  exhausted = 0
  local file = os.getenv("RG_BENCH_FILE")
  if file == nil then
    plain = true -- the GET ceiling
    return
  end
  local nthreads = tonumber(os.getenv("RG_BENCH_THREADS"))
  local path = os.getenv("RG_BENCH_PATH")
  reqs = {}
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == id then
      local parts = {}
      for field in string.gmatch(line, "[^\t]+") do parts[#parts + 1] = field end
      local headers = {}
      for k = 1, #parts - 1 do
        local name, value = string.match(parts[k], "^([^:]+): (.*)$")
        headers[name] = value
      end
      reqs[#reqs + 1] = wrk.format("POST", path, headers, parts[#parts])
    end
    n = n + 1
  end
end

function request()
  if plain then return get end
  sent = sent + 1
  if sent > #reqs then
    exhausted = 1
    return get
  end
  return reqs[sent]
end

function done(summary, latency, requests)
  local ex = 0
  for _, t in ipairs(threads) do ex = ex + t:get("exhausted") end
  local e = summary.errors
  io.write(string.format(
    "RG requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d status_errors=%d socket_errors=%d exhausted=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.status, e.connect + e.read + e.write + e.timeout, ex))
end
