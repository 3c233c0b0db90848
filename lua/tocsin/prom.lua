-- tocsin.prom: Prometheus's HTTP API for runbooks.
--   prom.query(base, q [, timeout_s])  an instant query (GET base/api/v1/query): the result list
--                                      ({ { metric = {...}, value = { ts, "v" } }, ... }), or nil
--                                      in a dry run. Raises "prometheus unreachable: ..." or
--                                      "prometheus query failed (HTTP n): <its error>".
local http = require("tocsin.http")
local json = require("tocsin.json")
local urlencode = require("tocsin.url").encode

local M = {}

function M.query(base, q, timeout_s)
  local r, err = http.get(base .. "/api/v1/query?query=" .. urlencode(q), { timeout = timeout_s or 10 })
  if not r then error("prometheus unreachable: " .. err, 0) end
  if r.dry_run then return nil end
  local body = r.json or json.decode(r.body or "")
  if r.status ~= 200 or type(body) ~= "table" or body.status ~= "success" then
    error(string.format("prometheus query failed (HTTP %d): %s", r.status,
      type(body) == "table" and body.error or string.sub(r.body or "", 1, 200)), 0)
  end
  return body.data and body.data.result or {}
end

return M
