-- pattern: a signal whose signature (its labels with values masked, its name and text) is
-- nearly the same as that of a signal in a recent open incident joins it: the same alert on
-- many pods, nodes or partitions is one problem. It only decides for signals the service graph
-- cannot place (no service, or one the graph does not know): for known services topology has
-- already said whether they are related.
local incident = require("tocsin.incident")
local similarity = require("tocsin.similarity")
local topology = require("tocsin.topology")
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
    local sig = similarity.signature { labels = s.labels or {}, text = (s.name or "") .. " "
                                       .. (s.text or "") }
    local mine = sig:simhash()
    local best, best_sim
    for _, inc in ipairs(grouping.recent(WINDOW_MS)) do
      local members = incident.members(inc.id, MAX_MEMBERS) or {}
      for i = #members, 1, -1 do
        local sim = similarity.simhash_similarity(mine, members[i].simhash)
        if sim >= THRESHOLD and (not best_sim or sim > best_sim) then
          best, best_sim = inc, sim
        end
      end
    end
    if best then incident.attach(best.id, s) end
  end,
}
