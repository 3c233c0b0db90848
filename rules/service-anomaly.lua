-- service-anomaly: one incident per group of related services with anomalous signals.
--
-- Every anomaly detect reports comes here. An anomaly of a service near one that already has
-- an open incident (within HOPS hops of the service graph, either way: a slow database makes
-- its callers slow) is attached to that incident, the nearest first; so a bad deploy that
-- cascades through its callers is one incident, not one per service. Otherwise anomalies of
-- the same service while its incident is open are attached to it (deduplication by
-- fingerprint), and the first one opens the incident (or reopens it when it was resolved only
-- moments ago: flapping) and asks the notify-oncall runbook to tell people, with what was
-- expected and what was seen.
local incident = require("tocsin.incident")
local runbook = require("tocsin.runbook")
local topology = require("tocsin.topology")
local log = require("tocsin.log")

local HOPS = 2 -- how far in the service graph an open incident takes related anomalies

-- The open incident of the nearest related service (the service itself included), or nil.
local function related_incident(service)
  local near = {}
  for name, hops in pairs(topology.khop(service, HOPS)) do
    near[#near + 1] = { name = name, hops = hops }
  end
  table.sort(near, function(x, y)
    if x.hops ~= y.hops then return x.hops < y.hops end
    return x.name < y.name
  end)
  for _, n in ipairs(near) do
    local inc = incident.find("service:" .. n.name)
    if inc then return inc, n end
  end
  return nil
end

-- One line for people: what was seen, in the words of its kind of signal.
local function describe(a, service)
  local l = a.labels or {}
  if a.metric == "log_template_new" then
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
  return string.format("%s on %s = %.4g, expected about %.4g (%s)", a.metric, service, a.value,
                       a.expected, a.detector or "?")
end

return {
  name = "service-anomaly",
  description = "Group anomalies of related services into one incident; notify on-call when it opens.",

  on_anomaly = function(a)
    local service = (a.service ~= nil and a.service ~= "") and a.service or "unknown"
    local severity = a.score >= 0.999999 and "critical" or "warning"
    local fingerprint = "service:" .. service
    local related, near = related_incident(service)
    if related and near.name ~= service then
      fingerprint = related.fingerprint
      log.info("%s on %s joins incident %s of %s (%d hop(s) away in the service graph)",
               a.metric, service, related.id, near.name, near.hops)
    end
    local inc = incident.open {
      fingerprint = fingerprint,
      title = string.format("%s is anomalous on %s", a.metric, service),
      service = service,
      severity = severity,
      alert = a,
    }
    if inc.new or inc.reopened then
      log.info("incident %s %s for %s; starting notify-oncall", inc.id,
               inc.new and "opened" or "reopened", service)
      runbook.start("notify-oncall", {
        incident = inc.id,
        summary = describe(a, service),
        metric = a.metric,
        value = a.value,
        expected = a.expected,
      })
    end
  end,
}
