-- tocsin.grouping: small helpers the shipped correlation rules share (rules/*.lua).
--
-- A rule gets every signal (an alert or an anomaly, see docs/correlation.md) in file order;
-- once a rule has placed it in an incident (incident.open or incident.attach) the later rules
-- see signal.incident. These helpers answer the questions the grouping rules ask.
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local time = require("tocsin.time")

local M = {}

-- The signal's service, or nil when it has none.
function M.service(s)
  if s.service ~= nil and s.service ~= "" then return s.service end
  return nil
end

-- The open incidents with a signal in the last window_ms, oldest first; with services (a list),
-- only those holding one of them (the engine filters: cheap with thousands of incidents).
function M.recent(window_ms, services)
  return incident.list { since_ms = time.now() - window_ms, services = services }
end

-- svc and the services within k hops of it either way, as a list (for recent's filter).
function M.near(svc, k)
  local out = {}
  for name in pairs(topology.khop(svc, k)) do out[#out + 1] = name end
  if #out == 0 then out[1] = svc end
  return out
end

-- The services of an incident that are sick now: those with a firing alert, those whose
-- signals are anomalies (which do not resolve) seen within anomaly_ms, and any with a signal in
-- the last minute. A failure spreads to callers while its cause is sick: a service whose alerts
-- have all resolved (a flapping alert between two firings) is no one's cause meanwhile.
function M.live(inc, now, anomaly_ms)
  local out = {}
  local info = inc.service_info or {}
  for _, name in ipairs(inc.services or {}) do
    local st = info[name]
    if not st or st.active > 0 or now - st.last_ms <= 60000
       or (st.alerts == 0 and now - st.last_ms <= anomaly_ms) then
      out[#out + 1] = name
    end
  end
  return out
end

-- Alert and metric names that report a failure of the component itself rather than a symptom
-- of something it calls (Lua patterns; the rules that use them say how).
M.CAUSE_NAMES = { "[Dd]own$", "[Dd]own[A-Z_]", "Unreachable", "NotReady", "Exhausted",
                  "Refused", "OutOfMemory", "OOM", "CrashLoop", "Crash", "Restart", "DiskFull",
                  "Disk.*Full", "OutOfDisk", "Replication", "Deadlock", "Leader", "Certificate",
                  "log_template_new" }

function M.cause_like(name)
  return M.matches(name, M.CAUSE_NAMES)
end

-- Whether name matches one of the Lua patterns in list.
function M.matches(name, list)
  if not name then return false end
  for _, p in ipairs(list) do
    if string.find(name, p) then return true end
  end
  return false
end

-- How svc relates to the services of an incident along dependencies (directed). A failure
-- travels up the call graph, so an incident's services are its root and the callers the
-- failure reached. svc is a "caller" when it depends on one of them within up_hops (a symptom
-- that spread further; more than one hop lets a silent service in between), a "callee" when
-- one of the incident's lowest services (those none of whose callees is in the incident: the
-- root candidates) depends on it within down_hops (the root, seen late: the failure reaches
-- its callers through their calls to it, so 1 is the natural value; default up_hops).
-- info: the incident's service_info (see lowest). Returns the hops and how, or nil when
-- unrelated; the same service is 0 hops, "same".
function M.relation(svc, services, up_hops, down_hops, info)
  down_hops = down_hops or up_hops
  for _, m in ipairs(services) do
    if m == svc then return 0, "same" end
  end
  local best, how
  for _, m in ipairs(services) do
    local d = topology.distance(svc, m, true)
    if d and d <= up_hops and (not best or d < best) then best, how = d, "caller" end
  end
  for m in pairs(M.lowest(services, info)) do
    local d = topology.distance(m, svc, true)
    if d and d <= down_hops and (not best or d < best) then best, how = d, "callee" end
  end
  return best, how
end

-- The lowest of a list of services: those none of whose callees in the list turned sick
-- before them (the root candidates of an incident), as a set. info (optional: an incident's
-- service_info) gives when each turned sick; without it any callee in the list counts. A
-- callee that turned sick later is no explanation (it may be hammered, or unrelated noise).
function M.lowest(services, info)
  local set, out = {}, {}
  for _, m in ipairs(services) do set[m] = true end
  for _, m in ipairs(services) do
    local low = true
    local mine = info and info[m]
    for _, c in ipairs(topology.callees(m)) do
      if set[c] and c ~= m then
        local theirs = info and info[c]
        if not (mine and theirs) or theirs.first_ms <= mine.first_ms then
          low = false
          break
        end
      end
    end
    if low then out[m] = true end
  end
  return out
end

return M
