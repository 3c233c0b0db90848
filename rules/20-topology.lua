-- topology: a signal of a service related along dependencies to the services of an open
-- incident joins that incident. A failure travels up the call graph (a slow database makes its
-- callers slow), so a signal of a service that depends on an incident's services (a caller,
-- within UP_HOPS hops: one silent service may sit in between) is a likely symptom, and one of
-- a service the incident's lowest services call directly (a callee, DOWN_HOPS) a likely cause
-- seen late; the nearest incident wins, then the most recent. When the signal's service is a
-- callee of the lowest services of an incident and directly related to others (their cause
-- too, or a caller of their services), it links them: they are merged. Services the graph does
-- not know are left to the later rules.
--
-- Why not further down: a fault's callers reach it through their calls, so its root is a
-- direct dependency of the lowest services that show symptoms. A longer reach down joins an
-- unrelated fault that happens to sit two calls below (and merges incidents through it).
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local log = require("tocsin.log")
local time = require("tocsin.time")
local grouping = require("tocsin.grouping")

local UP_HOPS = 1                -- how far up (callers) a symptom may be from an incident
local DOWN_HOPS = 1              -- how far down (callees of its lowest services) a late root
local WINDOW_MS = 15 * 60 * 1000 -- the incident must have had a signal this recently
local MERGE_COMMON_CAUSE = true

return {
  name = "topology",
  description = "Group signals of services related along dependencies into one incident.",

  on_signal = function(s)
    local svc = grouping.service(s)
    if not svc or not topology.has(svc) then return end
    local best, best_d, best_how
    local causes, near = {}, {} -- incidents it is a cause of; incidents directly related
    -- an informational signal is no one's cause (a pod restarted, a certificate expires soon)
    local down = s.severity == "info" and 0 or DOWN_HOPS
    -- a service that reports its own failure (down, crashing, out of memory) is a symptom only
    -- of what it calls directly; further away it is more likely a problem of its own
    local up = grouping.cause_like(s.name) and 1 or UP_HOPS
    local now = time.now()
    for _, inc in ipairs(grouping.recent(WINDOW_MS, grouping.near(svc, math.max(up, down)))) do
      local d, how = grouping.relation(svc, grouping.live(inc, now, WINDOW_MS), up, down,
                                       inc.service_info)
      if d then
        if how == "callee" then causes[#causes + 1] = inc end
        if d <= 1 then near[#near + 1] = inc end
        if not best_d or d < best_d or (d == best_d and inc.last_alert_ms >= best.last_alert_ms) then
          best, best_d, best_how = inc, d, how
        end
      end
    end
    if s.incident then
      -- placed by an earlier rule (a known cause): the incidents it is the cause of join it
      if MERGE_COMMON_CAUSE then
        for _, inc in ipairs(causes) do
          if inc.id ~= s.incident then
            incident.merge(s.incident, inc.id, { note = string.format(
              "%s, in this incident, is what their lowest services call", svc) })
          end
        end
      end
      return
    end
    if not best then return end
    -- It is the cause of some incident(s) (their lowest services call it) and directly related
    -- to other ones (a cause of them too, or it calls their services: a chain A -> svc -> B):
    -- one problem seen in pieces. A service that only calls several sick ones is a symptom of
    -- any of them and merges nothing.
    if MERGE_COMMON_CAUSE and #causes > 0 and #near > 1 then
      local into = near[1] -- the oldest
      for i = 2, #near do
        incident.merge(into.id, near[i].id, { note = string.format(
          "%s links them: they depend on it or it on them", svc) })
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
