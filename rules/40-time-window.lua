-- time-window: the last word on grouping, and where incidents open. A signal no earlier rule
-- placed belongs to a group: the signals that share the GROUP_BY labels (by default its
-- service; signals without one form the group "unknown"). Signals of a group that come within
-- WINDOW_MS of the group's previous signal are one incident: the first opens it (or reopens
-- the group's incident resolved moments ago: flapping, see correlate.reopen_window_s), the
-- next ones join it. A group quiet for longer than WINDOW_MS starts a new incident: its open
-- one is resolved with that reason.
--
-- The rules before this one have already joined what the service graph, known causes and
-- signatures relate; what is left here is, as far as tocsin can tell, a problem of its own.
-- GROUP_BY = {} groups every signal left by time alone (Alertmanager's grouping without
-- group_by labels).
local incident = require("tocsin.incident")
local time = require("tocsin.time")
local grouping = require("tocsin.grouping")

local WINDOW_MS = 10 * 60 * 1000
local GROUP_BY = { "service" } -- e.g. { "service", "alertname" }, { "cluster" } or {}

local function group_key(s)
  local parts = {}
  for _, k in ipairs(GROUP_BY) do
    local v = k == "service" and (grouping.service(s) or "unknown") or (s.labels or {})[k] or s[k]
    parts[#parts + 1] = (#GROUP_BY == 1 and "" or k .. "=") .. tostring(v or "")
  end
  local name = #GROUP_BY == 1 and GROUP_BY[1] or "group"
  return name .. ":" .. table.concat(parts, ",")
end

local function severity(s)
  if s.severity == "critical" or (s.score or 0) >= 0.999999 then return "critical" end
  return "warning"
end

return {
  name = "time-window",
  description = "Open incidents; group what the earlier rules left by time window (per service).",

  on_signal = function(s)
    if s.incident then return end
    local key = group_key(s)
    local svc = grouping.service(s)
    local open = {
      fingerprint = key,
      title = string.format("%s on %s", s.name or "signal", svc or "an unknown service"),
      service = svc or "",
      severity = severity(s),
      alert = s,
    }
    local inc = incident.find(key)
    if inc and time.now() - inc.last_alert_ms > WINDOW_MS then
      incident.resolve(inc.id, { note = string.format(
        "quiet for more than %d s: what comes now is a new incident", WINDOW_MS // 1000) })
      open.reopen = false
    end
    incident.open(open)
  end,
}
