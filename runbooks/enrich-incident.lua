-- enrich-incident (level 1, enrich): post to chat what a responder opens first for an incident's
-- service: its Grafana dashboard, a Loki query of its error logs (a Grafana Explore link) and the
-- recent deploys. Deploys come from the `deploys` parameter (a list of { version =, ts =, by = }
-- a rule may pass) or else from Grafana's annotations API (GET /api/annotations, annotations
-- tagged `deploy_tag` and the service, as deploy pipelines commonly write them); a failing
-- annotations query is logged and the links are posted anyway.
--
-- Params: service (else the incident's), grafana_url, grafana_token (Bearer, for the
-- annotations API), dashboard_uid, dashboard_var (the dashboard's service variable),
-- loki_uid (the Loki data source's uid), log_label, log_filter, lookback_s, deploy_tag,
-- deploys, slack_url (a Slack incoming webhook) or webhook (any JSON webhook; default the
-- notify.webhook_url setting). No policy: it only reads and posts.
local http = require("tocsin.http")
local json = require("tocsin.json")
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local time = require("tocsin.time")
local log = require("tocsin.log")

local urlencode = require("tocsin.url").encode

local function service_of(ctx)
  local s = ctx.params.service
  if s == "" and ctx.incident then s = ctx.incident.service or "" end
  if s == "" then error("no service: give params.service or start it for an incident", 0) end
  return s
end

-- Recent deploys of svc from Grafana annotations; nil, reason when they could not be read.
local function annotations(p, svc, from_ms, to_ms)
  local url = string.format("%s/api/annotations?tags=%s&tags=%s&from=%d&to=%d&limit=5",
    p.grafana_url, urlencode(p.deploy_tag), urlencode(svc), from_ms, to_ms)
  local headers = p.grafana_token ~= "" and { Authorization = "Bearer " .. p.grafana_token } or nil
  local r, err = http.get(url, { headers = headers, timeout = 5 })
  if not r then return nil, err end
  if r.dry_run then return {} end
  if r.status ~= 200 then return nil, "HTTP " .. r.status end
  local list = r.json or json.decode(r.body or "")
  if type(list) ~= "table" then return nil, "not a JSON list" end
  local out = {}
  for _, a in ipairs(list) do
    out[#out + 1] = { text = a.text or "", ts = a.time, tags = a.tags }
  end
  return out
end

return {
  name = "enrich-incident",
  description = "Post the service's dashboard, error-log query and recent deploys to chat.",
  level = 1,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    grafana_url = { type = "string", default = "http://grafana:3000" },
    grafana_token = { type = "string", default = "" },
    dashboard_uid = { type = "string", default = "service-overview" },
    dashboard_var = { type = "string", default = "service", pattern = "[%w_]+" },
    loki_uid = { type = "string", default = "loki" },
    log_label = { type = "string", default = "service", pattern = "[%a_][%w_]*" },
    log_filter = { type = "string", default = "(?i)error|exception|panic" },
    lookback_s = { type = "integer", default = 3600, min = 300, max = 7 * 86400 },
    deploy_tag = { type = "string", default = "deploy" },
    deploys = { type = "table", default = {} },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },

  run = function(ctx)
    local p = ctx.params
    local svc = service_of(ctx)
    local to_ms = time.now()
    local from_ms = to_ms - p.lookback_s * 1000
    local dashboard = string.format("%s/d/%s?var-%s=%s&from=%d&to=%d", p.grafana_url,
      urlencode(p.dashboard_uid), p.dashboard_var, urlencode(svc), from_ms, to_ms)
    local expr = string.format('{%s="%s"} |~ %q', p.log_label, svc, p.log_filter)
    local panes = json.encode({ a = {
      datasource = p.loki_uid,
      queries = { { refId = "A", expr = expr, datasource = { type = "loki", uid = p.loki_uid } } },
      range = { from = tostring(from_ms), to = tostring(to_ms) },
    } })
    local logs = p.grafana_url .. "/explore?schemaVersion=1&orgId=1&panes=" .. urlencode(panes)

    local deploys = p.deploys
    if #deploys == 0 then
      local got, err = annotations(p, svc, from_ms, to_ms)
      if got then
        deploys = got
      else
        log.warn("recent deploys of %s unknown: annotations query failed (%s)", svc, err)
      end
    end
    local lines = {}
    for _, d in ipairs(deploys) do
      local when = d.ts and os.date("!%H:%M", d.ts // 1000) .. " UTC" or "?"
      lines[#lines + 1] = string.format("• %s %s%s", when, d.text or d.version or "?",
        d.by and (" by " .. d.by) or "")
    end

    local inc = ctx.incident or {}
    local head = string.format("%s%s", inc.id and (inc.id .. " ") or "", svc)
    local text = string.format("*%s*: <%s|dashboard> · <%s|error logs>\n%s", head, dashboard, logs,
      #lines > 0 and ("Deploys in the last " .. p.lookback_s // 60 .. " min:\n" ..
                      table.concat(lines, "\n"))
      or "No deploys in the last " .. p.lookback_s // 60 .. " min.")

    local r, err
    if p.slack_url ~= "" then
      r, err = notify.slack(p.slack_url, { text = text, unfurl_links = false })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url == "" then
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url): %s", text)
        return
      end
      r, err = notify.webhook(url, { text = text, incident = inc.id, service = svc,
        links = { dashboard = dashboard, logs = logs }, deploys = deploys, run = ctx.run_id })
    end
    if not r then error("enrichment of " .. svc .. " not delivered: " .. err, 0) end
    log.info("enriched %s: dashboard, logs and %d deploy(s) posted", head, #lines)
  end,
}
