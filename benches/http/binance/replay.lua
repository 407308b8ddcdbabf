-- Replay pre-signed requests, one per line of a file: METHOD \t PATH \t HEADERS \t BODY, where
-- HEADERS is `name: value` pairs joined by `|`. Each wrk thread cycles through the whole list
-- from its own offset. Usage: wrk ... -s replay.lua URL -- requests.tsv
local requests = {}
local n, i = 0, 0

function init(args)
  for line in io.lines(args[1]) do
    local method, path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {}
    for pair in headers:gmatch("[^|]+") do
      local k, v = pair:match("^([^:]+):%s*(.*)$")
      h[k] = v
    end
    n = n + 1
    requests[n] = wrk.format(method, path, h, body ~= "" and body or nil)
  end
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  return requests[i]
end
