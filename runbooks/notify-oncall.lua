-- notify-oncall (level 1, enrich the notification): post a new incident to the on-call webhook
-- with what was expected and what was seen. The webhook comes from the run's parameters or, by
-- default, from the notify.webhook_url setting.
local http = require("tocsin.http")
local config = require("tocsin.config")
local log = require("tocsin.log")

return {
  name = "notify-oncall",
  description = "Post the incident, with expected and observed values, to the on-call webhook.",
  level = 1,
  params = { webhook = "" },

  run = function(ctx)
    local url = ctx.params.webhook
    if url == "" then url = config.get("notify.webhook_url") end
    if url == "" then
      log.warn("no webhook configured (notify.webhook_url): nothing sent")
      return
    end
    local inc = ctx.incident or {}
    local text
    if ctx.params.summary then -- the rule's own words for what it saw
      text = string.format("[%s] %s: %s", inc.severity or "warning", inc.id or "?",
        ctx.params.summary)
    else
      text = string.format("[%s] %s: %s = %.4g, expected about %.4g",
        inc.severity or "warning", inc.id or "?", ctx.params.metric or "?",
        ctx.params.value or 0, ctx.params.expected or 0)
    end
    local resp, err = http.post(url, {
      json = {
        text = text,
        incident = inc.id,
        title = inc.title,
        service = inc.service,
        severity = inc.severity,
        summary = ctx.params.summary,
        metric = ctx.params.metric,
        value = ctx.params.value,
        expected = ctx.params.expected,
        run = ctx.run_id,
      },
      timeout = 5,
    })
    if not resp then error("webhook not delivered: " .. err) end
    if resp.status >= 300 then error("webhook answered HTTP " .. resp.status) end
    log.info("on-call notified about %s (HTTP %d)", inc.id or "?", resp.status)
  end,
}
