-- forecast-cert-expiry (level 4, prevent): every day, ask Prometheus which certificates the
-- blackbox exporter probes expire within `horizon_days` (min by (instance) of
-- probe_ssl_earliest_cert_expiry, minus time(): one figure per target, its earliest
-- certificate), and report them, soonest first, to chat and, when pd_routing_key is given, as
-- one PagerDuty event per target (dedup key cert-expiry/<instance>, so the daily runs do not
-- page twice; severity critical when expired or within critical_days, else warning). It only
-- reports: it renews nothing and starts nothing else. Nothing expiring: a log line, no message.
--
-- Level 4, but it only reports: its policy lets it run without a person (max_level = 4), so the
-- daily schedule starts it whatever automate.max_level says.
-- Params: prom_url, selector (PromQL label matchers, e.g. job="blackbox"; "" = every probe),
-- horizon_days, critical_days, slack_url or webhook (default the notify.webhook_url setting),
-- pd_routing_key. Policy: one run at a time.
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local time = require("tocsin.time")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

local DAY = 86400

return {
  name = "forecast-cert-expiry",
  description = "Report the probed TLS certificates that expire within the horizon (blackbox exporter).",
  level = 4,
  params = {
    prom_url = { type = "string", default = "http://prometheus:9090" },
    selector = { type = "string", default = "" },
    horizon_days = { type = "integer", default = 30, min = 1, max = 365 },
    critical_days = { type = "integer", default = 7, min = 0, max = 365 },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
    pd_routing_key = { type = "string", default = "" },
  },
  policy = { max_concurrent = 1, key = "runbook", max_level = 4 },
  triggers = { { every_s = 86400 } },

  run = function(ctx)
    local p = ctx.params
    local metric = "probe_ssl_earliest_cert_expiry"
    if p.selector ~= "" then metric = metric .. "{" .. p.selector .. "}" end
    local q = string.format("min by (instance) (%s) - time() < %d", metric, p.horizon_days * DAY)
    local result = prom.query(p.prom_url, q, 15)
    if not result then return end
    local now_s = time.now() // 1000
    local certs = {}
    for _, s in ipairs(result) do
      local left = tonumber(s.value[2]) or 0
      certs[#certs + 1] = { instance = (s.metric or {}).instance or "?", days_left = left / DAY,
                            expires_at = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now_s + left)) }
    end
    if #certs == 0 then
      log.info("no probed certificate expires within %d days", p.horizon_days)
      return
    end
    table.sort(certs, function(a, b)
      if a.days_left ~= b.days_left then return a.days_left < b.days_left end
      return a.instance < b.instance
    end)
    local lines = {}
    for _, c in ipairs(certs) do
      c.severity = c.days_left <= p.critical_days and "critical" or "warning"
      local when = c.days_left >= 0 and string.format("expires in %.1f days", c.days_left)
        or string.format("EXPIRED %.1f days ago", -c.days_left)
      lines[#lines + 1] = string.format("• %s: %s (%s)", c.instance, when, c.expires_at)
    end
    local text = string.format("%d certificate(s) expire within %d days:\n%s", #certs, p.horizon_days,
      table.concat(lines, "\n"))
    log.warn("%s", text)

    local sent, err
    if p.slack_url ~= "" then
      sent, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url ~= "" then
        sent, err = notify.webhook(url, { text = text, certificates = certs, horizon_days = p.horizon_days,
                                          run = ctx.run_id })
      else
        sent, err = true, nil
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url)")
      end
    end
    local failures = {}
    if not sent then failures[#failures + 1] = "chat: " .. err end
    if p.pd_routing_key ~= "" then
      for _, c in ipairs(certs) do
        local ok, perr = notify.pagerduty {
          action = "trigger", routing_key = p.pd_routing_key, dedup_key = "cert-expiry/" .. c.instance,
          summary = c.days_left >= 0
            and string.format("TLS certificate of %s expires in %.1f days", c.instance, c.days_left)
            or string.format("TLS certificate of %s has expired", c.instance),
          source = c.instance, severity = c.severity, component = "tls", class = "certificate forecast",
          custom_details = { days_left = c.days_left, expires_at = c.expires_at,
                             horizon_days = p.horizon_days },
        }
        if not ok then failures[#failures + 1] = "pagerduty " .. c.instance .. ": " .. perr end
      end
    end
    if #failures > 0 then error("forecast not delivered: " .. table.concat(failures, "; "), 0) end
  end,
}
