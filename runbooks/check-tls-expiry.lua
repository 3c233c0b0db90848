-- check-tls-expiry (level 2, diagnose): ask Prometheus (HTTP API, GET /api/v1/query) when the
-- certificates the blackbox exporter probes expire (probe_ssl_earliest_cert_expiry: the Unix
-- time the earliest certificate of the chain a probe saw runs out), for one `target` (the
-- probe's `instance` label, as the blackbox exporter's usual relabeling sets it from
-- __param_target) or for every probe, and post the days left, soonest first, flagging those
-- below `threshold_days` (and any already expired). Read-only.
--
-- A target probed by several modules or jobs counts once, with its earliest expiry. A target
-- with no series (not probed, not over TLS, or its probe failing) fails the run saying so.
-- Params: target ("" = all probes), selector (more PromQL label matchers, e.g. job="blackbox"),
-- prom_url, threshold_days, top (lines in the message), slack_url or webhook (default the
-- notify.webhook_url setting).
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local time = require("tocsin.time")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

local DAY = 86400

return {
  name = "check-tls-expiry",
  description = "Days left on the certificates the blackbox exporter probes, flagging those expiring soon.",
  level = 2,
  params = {
    target = { type = "string", default = "", pattern = "[%w%._~:/?=&%-]*" },
    selector = { type = "string", default = "" },
    prom_url = { type = "string", default = "http://prometheus:9090" },
    threshold_days = { type = "integer", default = 14, min = 1, max = 365 },
    top = { type = "integer", default = 10, min = 1, max = 100 },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },
  policy = { cooldown_s = 60, key = "target" },

  run = function(ctx)
    local p = ctx.params
    local matchers = {}
    if p.selector ~= "" then matchers[#matchers + 1] = p.selector end
    if p.target ~= "" then matchers[#matchers + 1] = 'instance="' .. p.target .. '"' end
    local q = "probe_ssl_earliest_cert_expiry"
    if #matchers > 0 then q = q .. "{" .. table.concat(matchers, ",") .. "}" end
    local what = p.target ~= "" and p.target or "all probes"

    local result = prom.query(p.prom_url, q)
    local certs = {}
    if result then
      local by = {}
      for _, s in ipairs(result) do
        local inst = (s.metric or {}).instance or "?"
        local at = tonumber(s.value[2])
        if at and (not by[inst] or at < by[inst].expiry_ts) then
          if not by[inst] then
            by[inst] = { instance = inst }
            certs[#certs + 1] = by[inst]
          end
          by[inst].expiry_ts = at
        end
      end
      if #certs == 0 then
        error(string.format("no %s series for %s: not probed, not over TLS, or the probe fails", q, what), 0)
      end
    end

    local now_s = time.now() / 1000
    local below = {}
    for _, c in ipairs(certs) do
      c.days_left = (c.expiry_ts - now_s) / DAY
      c.below = c.days_left < p.threshold_days
      if c.below then below[#below + 1] = c.instance end
    end
    table.sort(certs, function(a, b)
      if a.expiry_ts ~= b.expiry_ts then return a.expiry_ts < b.expiry_ts end
      return a.instance < b.instance
    end)
    local lines = {}
    for i, c in ipairs(certs) do
      if i > p.top then
        lines[#lines + 1] = string.format("… and %d more", #certs - p.top)
        break
      end
      local left = c.days_left >= 0 and string.format("%.1f days left", c.days_left)
        or string.format("EXPIRED %.1f days ago", -c.days_left)
      lines[#lines + 1] = string.format("• %s: %s (expires %s)%s", c.instance, left,
        os.date("!%Y-%m-%d %H:%M UTC", math.floor(c.expiry_ts)),
        c.below and string.format(" (below %d days)", p.threshold_days) or "")
    end
    local text
    if not result then -- a dry run
      text = string.format("TLS expiry of %s: dry run, no data", what)
    else
      text = string.format("TLS expiry of %s: %d certificate(s), %d below %d days:\n%s", what, #certs,
        #below, p.threshold_days, table.concat(lines, "\n"))
    end
    if #below > 0 then log.warn("%s", text) else log.info("%s", text) end

    local sent, err
    if p.slack_url ~= "" then
      sent, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url == "" then
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url): summary only logged")
        return
      end
      sent, err = notify.webhook(url, { text = text, target = p.target, threshold_days = p.threshold_days,
                                        certificates = certs, below = below, run = ctx.run_id })
    end
    if not sent then error("TLS expiry summary for " .. what .. " not delivered: " .. err, 0) end
  end,
}
