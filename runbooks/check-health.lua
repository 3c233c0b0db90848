-- check-health (level 2, diagnose): probe a service's health endpoints and say which answer and
-- how: each URL is asked `tries` times (GET, `timeout_s` each, `every_s` apart); a probe passes
-- when the status is `expect_status` (default: any 2xx) and, when `expect_body` is given (a Lua
-- pattern), the body matches it. The summary (per URL: passed probes, the statuses and errors
-- seen, the slowest answer) goes to chat and, for an incident, onto its timeline; the run fails
-- when an endpoint never passed, so `tocsin runs` shows it. Read-only.
--
-- Params: urls (comma-separated; "{service}" is replaced), service (else the incident's),
-- tries, every_s, timeout_s, expect_status, expect_body, slack_url or webhook (default the
-- notify.webhook_url setting).
local http = require("tocsin.http")
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local incident = require("tocsin.incident")
local time = require("tocsin.time")
local log = require("tocsin.log")

local function split(s)
  local out = {}
  for u in string.gmatch(s, "[^,%s]+") do out[#out + 1] = u end
  return out
end

local function probe(url, p)
  local t0 = time.now()
  local r, err = http.get(url, { timeout = p.timeout_s })
  local ms = time.now() - t0
  if not r then return false, err, ms end
  if r.dry_run then return true, "dry run", ms end
  local ok = p.expect_status > 0 and r.status == p.expect_status or
             p.expect_status == 0 and r.status >= 200 and r.status < 300
  if ok and p.expect_body ~= "" and not string.find(r.body or "", p.expect_body) then
    return false, string.format("HTTP %d without %q in the body", r.status, p.expect_body), ms
  end
  return ok, "HTTP " .. r.status, ms
end

return {
  name = "check-health",
  description = "Probe a service's health endpoints a few times and report which pass.",
  level = 2,
  params = {
    urls = { type = "string", default = "http://{service}/healthz" },
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    tries = { type = "integer", default = 3, min = 1, max = 20 },
    every_s = { type = "number", default = 2, min = 0, max = 60 },
    timeout_s = { type = "number", default = 5, min = 0.1, max = 60 },
    expect_status = { type = "integer", default = 0, min = 0, max = 599 },
    expect_body = { type = "string", default = "" },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },
  policy = { cooldown_s = 30, key = "service" },
  triggers = { { command = "health" } }, -- /tocsin health service=... in chat

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    local urls = split((string.gsub(p.urls, "{service}", svc)))
    if #urls == 0 then error("no URL to probe (params.urls)", 0) end
    if svc == "" and string.find(p.urls, "{service}", 1, true) then
      error("no service: give params.service, params.urls or start it for an incident", 0)
    end
    local results, failing = {}, {}
    for _, url in ipairs(urls) do
      local res = { url = url, passed = 0, tries = p.tries, seen = {}, slowest_ms = 0 }
      for i = 1, p.tries do
        local ok, what, ms = probe(url, p)
        if ok then res.passed = res.passed + 1 end
        res.seen[what] = (res.seen[what] or 0) + 1
        res.slowest_ms = math.max(res.slowest_ms, ms)
        if i < p.tries and p.every_s > 0 then time.sleep(p.every_s) end
      end
      if res.passed == 0 then failing[#failing + 1] = url end
      results[#results + 1] = res
    end
    local lines = {}
    for _, res in ipairs(results) do
      local seen = {}
      for what, n in pairs(res.seen) do seen[#seen + 1] = string.format("%s ×%d", what, n) end
      table.sort(seen)
      lines[#lines + 1] = string.format("• %s: %d/%d passed (%s; slowest %d ms)", res.url, res.passed,
        res.tries, table.concat(seen, ", "), math.floor(res.slowest_ms + 0.5))
    end
    local text = string.format("Health of %s: %s\n%s", svc ~= "" and svc or urls[1],
      #failing == 0 and "every endpoint answers" or (#failing .. " endpoint(s) never passed"),
      table.concat(lines, "\n"))
    log.info("%s", text)
    if ctx.incident and ctx.incident.id then incident.annotate(ctx.incident.id, text) end
    local r, err = true, nil
    if p.slack_url ~= "" then
      r, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url ~= "" then
        r, err = notify.webhook(url, { text = text, service = svc, results = results, run = ctx.run_id,
                                       incident = ctx.incident and ctx.incident.id })
      end
    end
    if not r then log.warn("health summary not delivered: %s", err) end
    if #failing > 0 then error("unhealthy: " .. table.concat(failing, ", ") .. " never passed", 0) end
    return text
  end,
}
