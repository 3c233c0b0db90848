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
local changes = require("tocsin.changes")
local rca = require("tocsin.rca")
local state = require("tocsin.state")
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

-- ---- root cause ------------------------------------------------------------------------------
-- The services of an incident are ranked by four kinds of evidence, each in [0,1]:
--   walk     a random walk with restart over the incident's part of the service graph (edges
--            caller -> callee, weighted by the callee's anomaly score, restarts at each service
--            by its score): where symptoms lead;
--   onset    how early its first anomaly came (the earliest 1, the latest 0);
--   deps     whether what it depends on is healthy (1 when none of its callees is anomalous);
--   change   a deploy or config change of the service within CHANGE_BEFORE_MS before its onset.
-- score = 0.3 walk + 0.25 onset + 0.2 deps + 0.2 change + 0.05 severity.
local CHANGE_BEFORE_MS = 3600 * 1000

local function rank(members)
  local names, set = {}, {}
  for name in pairs(members) do
    names[#names + 1] = name
    set[name] = true
  end
  table.sort(names)
  local edges, pers = {}, {}
  for _, e in ipairs(topology.edges()) do
    if set[e.from] and set[e.to] and e.from ~= e.to then
      edges[#edges + 1] = { e.from, e.to, members[e.to].score + 0.01 }
    end
  end
  for _, n in ipairs(names) do pers[n] = members[n].score + 0.01 end
  local walk = {}
  local ranked = rca.pagerank { edges = edges, nodes = names, personalization = pers }
  local top = ranked[1] and ranked[1].score or 1
  for _, r in ipairs(ranked) do walk[r.service] = r.score / top end
  local first, last
  for _, n in ipairs(names) do
    local t = members[n].first_ts
    if not first or t < first then first = t end
    if not last or t > last then last = t end
  end
  local out = {}
  for _, n in ipairs(names) do
    local m = members[n]
    local ev = {}
    local onset = last > first and 1 - (m.first_ts - first) / (last - first) or 1
    if m.first_ts == first then ev[#ev + 1] = "earliest onset of the incident" end
    local sick = 0
    for _, callee in ipairs(topology.callees(n)) do
      if set[callee] then sick = sick + 1 end
    end
    local deps = 0.5 ^ sick
    if sick == 0 then ev[#ev + 1] = "what it depends on is healthy" end
    local change = 0
    local c = changes.recent { service = n, since_ms = m.first_ts - CHANGE_BEFORE_MS,
                               until_ms = m.first_ts + 60000 }[1] -- the latest
    if c then
      change = 1
      ev[#ev + 1] = string.format("%s \"%s\" %d s before its first anomaly", c.type,
                                  c.title ~= "" and c.title or c.version,
                                  (m.first_ts - c.ts) // 1000)
    end
    ev[#ev + 1] = string.format("random walk %.2f over the incident's services", walk[n] or 0)
    local score = 0.3 * (walk[n] or 0) + 0.25 * onset + 0.2 * deps + 0.2 * change
                  + 0.05 * m.score
    out[#out + 1] = { service = n, score = math.floor(score * 1000 + 0.5) / 1000, evidence = ev,
                      anomalies = m.n }
  end
  table.sort(out, function(x, y)
    if x.score ~= y.score then return x.score > y.score end
    return x.service < y.service
  end)
  return out
end

-- Remembers the anomaly as part of the incident and ranks its services again.
local function explain(inc, service, a)
  state.incidents = state.incidents or {}
  local members = state.incidents[inc.id] or {}
  state.incidents[inc.id] = members
  local m = members[service]
  local ts = a.ts or 0
  if not m then
    members[service] = { first_ts = ts, score = a.score or 0, n = 1 }
  else
    if ts < m.first_ts then m.first_ts = ts end
    if (a.score or 0) > m.score then m.score = a.score end
    m.n = m.n + 1
  end
  local ranked = rank(members)
  incident.set_rca(inc.id, ranked)
  return ranked
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
    local ranked = explain(inc, service, a)
    state.leads = state.leads or {}
    if ranked[1] and #ranked > 1 and state.leads[inc.id] ~= ranked[1].service then
      state.leads[inc.id] = ranked[1].service -- logged when the leading candidate changes
      log.info("incident %s: probable root cause %s (%.2f): %s", inc.id, ranked[1].service,
               ranked[1].score, table.concat(ranked[1].evidence, "; "))
    end
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
