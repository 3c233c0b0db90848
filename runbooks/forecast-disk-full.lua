-- forecast-disk-full (level 4, prevent): every hour, ask Prometheus which filesystems will run
-- out of space within `horizon_h` at the trend of the last `trend` (node_exporter's
-- node_filesystem_avail_bytes through predict_linear), and report them to chat and, when
-- pd_routing_key is given, as one PagerDuty warning per filesystem (dedup key
-- disk-full/<instance>/<mountpoint>, so the hourly runs do not page twice). It only reports: it
-- starts nothing else. Nothing predicted: a log line, no message.
--
-- Level 4, but it only reports: its policy lets it run without a person (max_level = 4), so the
-- hourly schedule starts it whatever automate.max_level says.
-- Params: prom_url, selector (PromQL label matchers), horizon_h, trend, slack_url or webhook
-- (default the notify.webhook_url setting), pd_routing_key. Policy: one run at a time.
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

local function gib(bytes) return bytes / (1024 * 1024 * 1024) end

return {
  name = "forecast-disk-full",
  description = "Report the filesystems predicted to fill up within the horizon (predict_linear).",
  level = 4,
  params = {
    prom_url = { type = "string", default = "http://prometheus:9090" },
    selector = { type = "string", default = 'fstype!~"tmpfs|overlay|squashfs",mountpoint!~"/boot.*"' },
    horizon_h = { type = "integer", default = 24, min = 1, max = 24 * 30 },
    trend = { type = "string", default = "6h", pattern = "%d+[mhd]" },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
    pd_routing_key = { type = "string", default = "" },
  },
  policy = { max_concurrent = 1, key = "runbook", max_level = 4 },
  triggers = { { every_s = 3600 } },

  run = function(ctx)
    local p = ctx.params
    local q = string.format("predict_linear(node_filesystem_avail_bytes{%s}[%s], %d) < 0",
      p.selector, p.trend, p.horizon_h * 3600)
    local result = prom.query(p.prom_url, q, 15)
    if not result then return end
    local full = {}
    for _, s in ipairs(result) do
      local m = s.metric or {}
      full[#full + 1] = { instance = m.instance or "?", mountpoint = m.mountpoint or "?",
                          short_gib = -gib(tonumber(s.value[2]) or 0) }
    end
    if #full == 0 then
      log.info("no filesystem predicted to fill within %d h", p.horizon_h)
      return
    end
    table.sort(full, function(a, b) return a.short_gib > b.short_gib end)
    local lines = {}
    for _, f in ipairs(full) do
      lines[#lines + 1] = string.format("• %s %s: full within %d h (%.1f GiB short at the trend of %s)",
        f.instance, f.mountpoint, p.horizon_h, f.short_gib, p.trend)
    end
    local text = string.format("%d filesystem(s) predicted to fill within %d h:\n%s", #full,
      p.horizon_h, table.concat(lines, "\n"))
    log.warn("%s", text)

    local sent, err
    if p.slack_url ~= "" then
      sent, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url ~= "" then
        sent, err = notify.webhook(url, { text = text, filesystems = full, run = ctx.run_id })
      else
        sent, err = true, nil
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url)")
      end
    end
    local failures = {}
    if not sent then failures[#failures + 1] = "chat: " .. err end
    if p.pd_routing_key ~= "" then
      for _, f in ipairs(full) do
        local ok, perr = notify.pagerduty {
          action = "trigger", routing_key = p.pd_routing_key,
          dedup_key = "disk-full/" .. f.instance .. "/" .. f.mountpoint,
          summary = string.format("%s %s predicted full within %d h", f.instance, f.mountpoint,
            p.horizon_h),
          source = f.instance, severity = "warning", component = f.mountpoint, class = "disk forecast",
          custom_details = { short_gib = f.short_gib, horizon_h = p.horizon_h, trend = p.trend },
        }
        if not ok then failures[#failures + 1] = "pagerduty " .. f.instance .. ": " .. perr end
      end
    end
    if #failures > 0 then error("forecast not delivered: " .. table.concat(failures, "; "), 0) end
  end,
}
