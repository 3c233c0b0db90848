-- diagnose-memory-pressure (level 2, diagnose): ask Prometheus (GET /api/v1/query) how the
-- containers of the incident's service use memory against their limits, from cAdvisor and
-- kube-state-metrics series: the working set (container_memory_working_set_bytes), the limit
-- (kube_pod_container_resource_limits{resource="memory"}), how fast the working set grows
-- (deriv over `window`) and the OOM kills (increase of
-- kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} restarts over `window`),
-- and post one summary to chat: the containers closest to their limit first, the ones past
-- `limit_max`, the fastest-growing one with the time left before its limit at that rate, and the
-- OOM kills. Read-only.
--
-- Params: service (else the incident's), namespace, container_selector (extra PromQL matchers on
-- the container series; default container!="",container!="POD"), prom_url, window, limit_max,
-- top, slack_url or webhook (default the notify.webhook_url setting).
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

local MIB = 1024 * 1024

local function vector(base, q) return prom.query(base, q) or {} end

local function key(m) return (m.pod or "?") .. "/" .. (m.container or "?") end

local function mib(b) return string.format("%.0f MiB", b / MIB) end

local function duration(h)
  if h < 1 then return string.format("%d min", math.floor(h * 60 + 0.5)) end
  if h < 48 then return string.format("%.1f h", h) end
  return string.format("%.1f days", h / 24)
end

return {
  name = "diagnose-memory-pressure",
  description = "Summarise the memory of a service's containers against their limits, growth and OOM kills.",
  level = 2,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    namespace = { type = "string", default = "", pattern = "[%w%._%-]*" },
    container_selector = { type = "string", default = 'container!="",container!="POD"' },
    prom_url = { type = "string", default = "http://prometheus:9090" },
    window = { type = "string", default = "30m", pattern = "%d+[smhd]" },
    limit_max = { type = "number", default = 0.9, min = 0, max = 1 },
    top = { type = "integer", default = 5, min = 1, max = 50 },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },
  policy = { cooldown_s = 120, key = "service" },

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" then error("no service: give params.service or start it for an incident", 0) end
    local sel = 'pod=~"' .. svc .. '-.*"'
    if p.namespace ~= "" then sel = sel .. ',namespace="' .. p.namespace .. '"' end
    local csel = p.container_selector ~= "" and (sel .. "," .. p.container_selector) or sel

    local ws = vector(p.prom_url, "container_memory_working_set_bytes{" .. csel .. "}")
    local limits = vector(p.prom_url, 'kube_pod_container_resource_limits{resource="memory",'
      .. sel .. "}")
    local growth = vector(p.prom_url, string.format("deriv(container_memory_working_set_bytes{%s}[%s])",
      csel, p.window))
    local ooms = vector(p.prom_url, string.format(
      'increase(kube_pod_container_status_restarts_total{%s}[%s]) '
        .. 'and on (pod, container) kube_pod_container_status_last_terminated_reason{reason="OOMKilled",%s}',
      sel, p.window, sel))

    local by, list = {}, {}
    for _, s in ipairs(ws) do
      local m = s.metric or {}
      local c = { pod = m.pod or "?", container = m.container or "?", namespace = m.namespace,
                  working_set_bytes = tonumber(s.value[2]) or 0 }
      by[key(m)] = c
      list[#list + 1] = c
    end
    local function each(series, field)
      for _, s in ipairs(series) do
        local c = by[key(s.metric or {})]
        local v = tonumber(s.value[2])
        if c and v and v == v then c[field] = v end
      end
    end
    each(limits, "limit_bytes")
    each(growth, "deriv")
    each(ooms, "oom_kills")
    local past, fastest, killed = {}, nil, {}
    for _, c in ipairs(list) do
      if c.limit_bytes and c.limit_bytes > 0 then c.used = c.working_set_bytes / c.limit_bytes end
      if c.used and c.used > p.limit_max then past[#past + 1] = key(c) end
      if c.deriv and c.deriv > 0 then
        c.growth_bytes_h = c.deriv * 3600
        if c.limit_bytes then
          c.limit_in_h = math.max(0, c.limit_bytes - c.working_set_bytes) / c.growth_bytes_h
        end
        if not fastest or c.growth_bytes_h > fastest.growth_bytes_h then fastest = c end
      end
      c.deriv = nil
      if c.oom_kills and c.oom_kills >= 0.5 then
        c.oom_kills = math.floor(c.oom_kills + 0.5)
        killed[#killed + 1] = string.format("%s (%d)", key(c), c.oom_kills)
      else
        c.oom_kills = nil
      end
    end
    table.sort(list, function(a, b)
      if (a.used or -1) ~= (b.used or -1) then return (a.used or -1) > (b.used or -1) end
      return key(a) < key(b)
    end)

    local text
    if #list == 0 then
      text = string.format("Memory pressure for %s: no container series match {%s}", svc, csel)
    else
      local lines = {}
      for i, c in ipairs(list) do
        if i > p.top then
          lines[#lines + 1] = string.format("… and %d more", #list - p.top)
          break
        end
        local lim = c.limit_bytes and string.format("%.0f%% of its %s limit", c.used * 100,
          mib(c.limit_bytes)) or "no limit"
        local above = c.used and c.used > p.limit_max
          and string.format(" (above %.0f%%)", p.limit_max * 100) or ""
        lines[#lines + 1] = string.format("• %s: %s, %s%s", key(c), mib(c.working_set_bytes), lim, above)
      end
      local grow = "Fastest growth: none over " .. p.window
      if fastest then
        local left = fastest.limit_in_h
          and (" (its limit in " .. duration(fastest.limit_in_h) .. " at that rate)") or ""
        grow = string.format("Fastest growth: %s, %s/h over %s%s", key(fastest),
          mib(fastest.growth_bytes_h), p.window, left)
      end
      local near = #past > 0 and ("Near the limit: " .. table.concat(past, ", "))
        or string.format("All below %.0f%% of their limits", p.limit_max * 100)
      local oom = #killed > 0
        and ("OOM-killed in the last " .. p.window .. ": " .. table.concat(killed, ", "))
        or "No OOM kills"
      text = string.format("Memory pressure for %s (%d container(s)):\n%s\n%s. %s. %s", svc, #list,
        table.concat(lines, "\n"), grow, near, oom)
    end
    log.info("%s", text)

    local r, err
    if p.slack_url ~= "" then
      r, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url == "" then
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url): summary only logged")
        return text
      end
      r, err = notify.webhook(url, { text = text, incident = ctx.incident and ctx.incident.id, service = svc,
                                     containers = list, fastest = fastest, near_limit = past,
                                     run = ctx.run_id })
    end
    if not r then error("memory summary for " .. svc .. " not delivered: " .. err, 0) end
    return text
  end,
}
