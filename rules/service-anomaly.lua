-- service-anomaly: one incident per service with anomalous metrics.
--
-- Every anomaly detect reports comes here. Anomalies of the same service while its incident is
-- open are attached to it (deduplication by fingerprint); the first one opens the incident and
-- asks the notify-oncall runbook to tell people, with what was expected and what was seen.
local incident = require("tocsin.incident")
local runbook = require("tocsin.runbook")
local log = require("tocsin.log")

return {
  name = "service-anomaly",
  description = "Group anomalies by service into one incident; notify on-call when it opens.",

  on_anomaly = function(a)
    local service = (a.service ~= nil and a.service ~= "") and a.service or "unknown"
    local severity = a.score >= 0.999999 and "critical" or "warning"
    local inc = incident.open {
      fingerprint = "service:" .. service,
      title = string.format("%s is anomalous on %s", a.metric, service),
      service = service,
      severity = severity,
      alert = a,
    }
    if inc.new then
      log.info("incident %s opened for %s; starting notify-oncall", inc.id, service)
      runbook.start("notify-oncall", {
        incident = inc.id,
        metric = a.metric,
        value = a.value,
        expected = a.expected,
      })
    end
  end,
}
