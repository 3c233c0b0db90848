-- topology: a signal of a service related along dependencies to the services of an open
-- incident joins that incident. A failure travels up the call graph (a slow database makes its
-- callers slow), so a signal of a service that depends on an incident's services (a caller,
-- within HOPS hops) is a likely symptom, and one of a service they depend on (a callee) a
-- likely cause; the nearest incident wins, then the most recent. When the signal's service is
-- a callee of the services of several incidents, it is their common cause: they are merged.
-- Services the graph does not know are left to the later rules.
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local log = require("tocsin.log")
local grouping = require("tocsin.grouping")

local HOPS = 3                   -- how far along dependencies a signal may be from an incident
local WINDOW_MS = 15 * 60 * 1000 -- the incident must have had a signal this recently
local MERGE_COMMON_CAUSE = true

return {
  name = "topology",
  description = "Group signals of services related along dependencies into one incident.",

  on_signal = function(s)
    if s.incident then return end
    local svc = grouping.service(s)
    if not svc or not topology.has(svc) then return end
    local best, best_d, best_how
    local causes = {}
    for _, inc in ipairs(grouping.recent(WINDOW_MS)) do
      local d, how = grouping.relation(svc, inc.services or {}, HOPS)
      if d then
        if how == "callee" then causes[#causes + 1] = inc end
        if not best_d or d < best_d or (d == best_d and inc.last_alert_ms >= best.last_alert_ms) then
          best, best_d, best_how = inc, d, how
        end
      end
    end
    if not best then return end
    if MERGE_COMMON_CAUSE and #causes > 1 and best_how == "callee" then
      local into = causes[1]
      for i = 2, #causes do
        incident.merge(into.id, causes[i].id, { note = string.format(
          "%s depends on nothing of theirs but they all depend on %s", svc, svc) })
      end
      best = into
    end
    incident.attach(best.id, s)
    if best_d > 0 then
      log.info("%s on %s joins incident %s (%s of its services, %d hop(s))", s.name, svc,
               best.id, best_how, best_d)
    end
  end,
}
