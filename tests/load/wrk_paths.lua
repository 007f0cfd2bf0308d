-- wrk script: each thread walks its own share of a list of "path<TAB>token<TAB>etag" lines,
-- so every request of a "first read" run asks for a pupil-week nobody asked for before.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = os.getenv("WRK_PATHS")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  lines = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local path, token, etag = line:match("([^\t]*)\t([^\t]*)\t?([^\t]*)")
      table.insert(lines, {path, token, etag})
    end
    i = i + 1
  end
  pos = 0
  non2xx = 0
end

function request()
  pos = pos + 1
  if pos > #lines then pos = 1 end
  local item = lines[pos]
  local headers = {["Authorization"] = "Bearer " .. item[2]}
  if item[3] ~= nil and item[3] ~= "" then headers["If-None-Match"] = item[3] end
  return wrk.format("GET", item[1], headers)
end
