-- pattern: a signal whose signature (its labels with values masked but the service's, its name
-- and text; incident.similar) is nearly the same as that of a signal in a recent open incident
-- joins it: the same alert on
-- many pods, nodes or partitions is one problem. It only decides for signals the service graph
-- cannot place (no service, or one the graph does not know): for known services topology has
-- already said whether they are related.
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local time = require("tocsin.time")
local grouping = require("tocsin.grouping")

local THRESHOLD = 0.9            -- SimHash similarity (1 - differing bits / 64)
local WINDOW_MS = 15 * 60 * 1000
local MAX_MEMBERS = 200          -- signals of an incident compared (its latest)

return {
  name = "pattern",
  description = "Group signals with nearly the same signature (labels, name, text).",

  on_signal = function(s)
    if s.incident then return end
    local svc = grouping.service(s)
    if svc and topology.has(svc) then return end
    local best = incident.similar(s, { since_ms = time.now() - WINDOW_MS, threshold = THRESHOLD,
                                       last = MAX_MEMBERS })
    if best then incident.attach(best.id, s) end
  end,
}
