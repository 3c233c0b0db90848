-- notify: when a signal opened an incident (or reopened one), the notify-oncall runbook tells
-- people, with what was seen in the words of its kind of signal.
local runbook = require("tocsin.runbook")
local log = require("tocsin.log")

local function describe(a, service)
  local l = a.labels or {}
  if a.kind == "alert" then
    return string.format("%s on %s%s", a.name or "alert", service,
                         (a.text and a.text ~= "") and (": " .. a.text) or "")
  elseif a.metric == "log_template_new" then
    return string.format("new kind of log line from %s: %s", service, l.template or "?")
  elseif a.metric == "log_template_rate" then
    return string.format("%s logged \"%s\" %d times in the interval (usually about %.0f)",
                         service, l.template or "?", a.value, a.expected)
  elseif a.metric == "span_latency_p95_ms" then
    return string.format("p95 latency of %s is %.0f ms (usually about %.0f)", l.edge or service,
                         a.value, a.expected)
  elseif a.metric == "span_error_rate" then
    return string.format("%.0f%% of the calls to %s fail (usually %.1f%%)", 100 * a.value,
                         l.edge or service, 100 * a.expected)
  end
  return string.format("%s on %s = %.4g, expected about %.4g (%s)", a.metric or a.name, service,
                       a.value or 0, a.expected or 0, a.detector or "?")
end

return {
  name = "notify",
  description = "Notify on-call when an incident opens or reopens.",

  on_signal = function(s)
    if not s.incident or not (s.incident_new or s.incident_reopened) then return end
    local service = (s.service ~= nil and s.service ~= "") and s.service or "unknown"
    log.info("incident %s %s for %s; starting notify-oncall", s.incident,
             s.incident_new and "opened" or "reopened", service)
    runbook.start("notify-oncall", {
      incident = s.incident,
      summary = describe(s, service),
      metric = s.metric or s.name,
      value = s.value,
      expected = s.expected,
    })
  end,
}
