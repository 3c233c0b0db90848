-- diagnose-latency (level 2, diagnose): ask Prometheus (HTTP API, GET /api/v1/query) for the
-- incident's service p50 and p99 latency, error ratio and CPU saturation over `window`, and post
-- a one-message summary to chat, flagging what is past its threshold. Read-only.
--
-- The queries are parameters (PromQL with {service} and {window} put in), by default for the
-- usual client-library histogram `http_request_duration_seconds`, the counter
-- `http_requests_total` with a `code` label, and cAdvisor / kube-state-metrics CPU series.
-- Params: service (else the incident's), prom_url, window, p50_query, p99_query, error_query,
-- saturation_query, p99_slo_s, error_slo, saturation_max, slack_url or webhook (default the
-- notify.webhook_url setting). A query with no series is reported as "no data".
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

-- The first sample of an instant query as a number; nil when there is no series (or a dry run).
local function scalar(base, q)
  local result = prom.query(base, q)
  local first = result and result[1]
  local v = first and tonumber(first.value[2])
  if v ~= v then return nil end -- NaN: no traffic
  return v
end

local function fill(template, vars)
  return (string.gsub(template, "{(%a+)}", function(k) return vars[k] end))
end

return {
  name = "diagnose-latency",
  description = "Summarise a service's p50/p99 latency, error ratio and saturation from Prometheus.",
  level = 2,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    prom_url = { type = "string", default = "http://prometheus:9090" },
    window = { type = "string", default = "5m", pattern = "%d+[smh]" },
    p50_query = { type = "string", default = 'histogram_quantile(0.5, sum by (le) '
      .. '(rate(http_request_duration_seconds_bucket{service="{service}"}[{window}])))' },
    p99_query = { type = "string", default = 'histogram_quantile(0.99, sum by (le) '
      .. '(rate(http_request_duration_seconds_bucket{service="{service}"}[{window}])))' },
    error_query = { type = "string", default = 'sum(rate(http_requests_total{service="{service}",'
      .. 'code=~"5.."}[{window}])) / sum(rate(http_requests_total{service="{service}"}[{window}]))' },
    saturation_query = { type = "string", default = 'sum(rate(container_cpu_usage_seconds_total'
      .. '{container="{service}"}[{window}])) / sum(kube_pod_container_resource_limits'
      .. '{container="{service}",resource="cpu"})' },
    p99_slo_s = { type = "number", default = 0.5, min = 0 },
    error_slo = { type = "number", default = 0.01, min = 0, max = 1 },
    saturation_max = { type = "number", default = 0.8, min = 0 },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },
  policy = { cooldown_s = 120, key = "service" },

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" then error("no service: give params.service or start it for an incident", 0) end
    local vars = { service = svc, window = p.window }
    local m = {
      p50 = scalar(p.prom_url, fill(p.p50_query, vars)),
      p99 = scalar(p.prom_url, fill(p.p99_query, vars)),
      errors = scalar(p.prom_url, fill(p.error_query, vars)),
      saturation = scalar(p.prom_url, fill(p.saturation_query, vars)),
    }
    local flags = {}
    local function show(v, fmt, scale, limit, what)
      if v == nil then return "no data" end
      local s = string.format(fmt, v * scale)
      if limit and v > limit then
        s = s .. string.format(" (above " .. fmt .. ")", limit * scale)
        flags[#flags + 1] = what
      end
      return s
    end
    local text = string.format("Latency diagnosis for %s (%s): p50 %s, p99 %s, errors %s, CPU saturation %s",
      svc, p.window, show(m.p50, "%.0f ms", 1000), show(m.p99, "%.0f ms", 1000, p.p99_slo_s, "p99"),
      show(m.errors, "%.2f%%", 100, p.error_slo, "errors"),
      show(m.saturation, "%.0f%%", 100, p.saturation_max, "saturation"))
    text = text .. (#flags > 0 and (". Past threshold: " .. table.concat(flags, ", "))
                    or ". All within thresholds")
    log.info("%s", text)

    local inc = ctx.incident or {}
    local r, err
    if p.slack_url ~= "" then
      r, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url == "" then
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url): summary only logged")
        return
      end
      r, err = notify.webhook(url, { text = text, incident = inc.id, service = svc, metrics = m,
                                     past_threshold = flags, run = ctx.run_id })
    end
    if not r then error("latency summary for " .. svc .. " not delivered: " .. err, 0) end
  end,
}
