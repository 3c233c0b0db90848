-- rca: ranks the probable root causes of the incident each signal went to, and stores the
-- ranking on the incident (incident.set_rca; docs/rca.md). Every service with a signal in the
-- incident is a candidate, scored by five kinds of evidence, each in [0,1]:
--   walk      a random walk with restart over the incident's part of the service graph (edges
--             caller -> callee, weighted by the callee's signal score; restarts at each service
--             by its score): where the symptoms lead;
--   deps      whether what it depends on is healthy (1 when none of its callees is in the
--             incident, halved for each one that is; a callee whose first signal came more than
--             ONSET_SLACK_MS after the candidate's does not count: causes come first);
--   onset     how early its first signal came (the earliest 1, the latest 0);
--   change    a deploy or config change of the service within CHANGE_BEFORE_MS before its
--             first signal (tocsin.changes);
--   kind      whether its signals name a failure of the service itself (down, crashing, out of
--             memory or disk: CAUSE_NAMES) rather than a symptom (slow, failing calls);
-- and its worst signal's score. The weights are WEIGHTS below.
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local changes = require("tocsin.changes")
local rca = require("tocsin.rca")
local log = require("tocsin.log")
local state = require("tocsin.state")
local grouping = require("tocsin.grouping")

local CHANGE_BEFORE_MS = 3600 * 1000
local WEIGHTS = { walk = 0.2, deps = 0.2, onset = 0.15, change = 0.15, kind = 0.1, impact = 0.15,
                  score = 0.05 }
local CAUSE_NAMES = grouping.CAUSE_NAMES -- or a list of your own Lua patterns
local RERANK_EVERY = 20 -- an incident of more than 20 services: ranked again this often

-- service -> { first_ts, score, n, cause_like } from the incident's per-service summary (its
-- service_info: no walk over every signal, so a storm of thousands costs what a dozen does) and
-- the cause-like signals this rule has seen of each service (state.cause_seen: the last time)
local function candidates(id)
  local inc = incident.get(id)
  local members = {}
  if not inc then return members end
  state.cause_seen = state.cause_seen or {}
  for name, st in pairs(inc.service_info or {}) do
    local seen = state.cause_seen[name]
    members[name] = { first_ts = st.first_ms, score = st.score or 0, n = st.n or 1,
                      cause_like = seen ~= nil and seen >= (inc.started_ms or 0) - 600000
                                   and seen <= (inc.last_alert_ms or seen) + 600000 }
  end
  return members
end

-- Whether a's first signal came before b's, or within ONSET_SLACK_MS after it.
local ONSET_SLACK_MS = 0
local function before(a, b)
  return a.first_ts <= b.first_ts + ONSET_SLACK_MS
end

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
      -- a callee that turned sick only after its caller did is not where the caller's trouble
      -- comes from (it may be hammered by it): the walk takes that edge less
      local w = members[e.to].score + 0.01
      if not before(members[e.to], members[e.from]) then w = w * 0.2 end
      edges[#edges + 1] = { e.from, e.to, w }
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
    if m.first_ts == first and #names > 1 then ev[#ev + 1] = "earliest onset of the incident" end
    local sick = 0 -- its callees in the incident that were sick before it (or about then)
    for _, callee in ipairs(topology.callees(n)) do
      if set[callee] and callee ~= n and before(members[callee], m) then sick = sick + 1 end
    end
    local deps = 0.5 ^ sick
    if sick == 0 and topology.has(n) then ev[#ev + 1] = "what it depends on is healthy" end
    local change = 0
    local c = changes.recent { service = n, since_ms = m.first_ts - CHANGE_BEFORE_MS,
                               until_ms = m.first_ts + 60000 }[1] -- the latest
    if c then
      change = 1
      ev[#ev + 1] = string.format("%s \"%s\" %d s before its first signal", c.type,
                                  c.title ~= "" and c.title or c.version,
                                  (m.first_ts - c.ts) // 1000)
    end
    -- how many of its callers are sick: a failing component hurts most of what calls it, a
    -- dependency that is only hammered by one sick caller hurts nobody else
    local callers, sick_callers = 0, 0
    for _, caller in ipairs(topology.callers(n)) do
      if caller ~= n then
        callers = callers + 1
        if set[caller] then sick_callers = sick_callers + 1 end
      end
    end
    local impact = callers > 0 and sick_callers / callers or 0
    if callers > 0 and sick_callers > 1 and impact >= 0.5 then
      ev[#ev + 1] = string.format("%d of its %d callers are affected", sick_callers, callers)
    end
    local kind = m.cause_like and 1 or 0
    if m.cause_like then ev[#ev + 1] = "its signals name a failure of its own" end
    ev[#ev + 1] = string.format("random walk %.2f over the incident's services", walk[n] or 0)
    local score = WEIGHTS.walk * (walk[n] or 0) + WEIGHTS.deps * deps + WEIGHTS.onset * onset
                  + WEIGHTS.change * change + WEIGHTS.kind * kind + WEIGHTS.impact * impact
                  + WEIGHTS.score * m.score
    out[#out + 1] = { service = n, score = math.floor(score * 1000 + 0.5) / 1000, evidence = ev,
                      signals = m.n }
  end
  table.sort(out, function(x, y)
    if x.score ~= y.score then return x.score > y.score end
    return x.service < y.service
  end)
  return out
end

return {
  name = "rca",
  description = "Rank the probable root causes of each incident and store them on it.",

  on_signal = function(s)
    if s.service and s.service ~= "" and grouping.matches(s.name, CAUSE_NAMES) then
      state.cause_seen = state.cause_seen or {}
      state.cause_seen[s.service] = math.max(state.cause_seen[s.service] or 0, s.ts or 0)
    end
    if not s.incident then return end
    -- a big incident is ranked again when its services change, else every RERANK_EVERY signals
    state.ranked = state.ranked or {}
    local inc = incident.get(s.incident)
    local nsvc = inc and #(inc.services or {}) or 0
    local last = state.ranked[s.incident]
    if last and nsvc > 20 and last.nsvc == nsvc and last.n < RERANK_EVERY then
      last.n = last.n + 1
      return
    end
    state.ranked[s.incident] = { nsvc = nsvc, n = 0 }
    local ranked = rank(candidates(s.incident))
    incident.set_rca(s.incident, ranked)
    state.leads = state.leads or {}
    if ranked[1] and #ranked > 1 and state.leads[s.incident] ~= ranked[1].service then
      state.leads[s.incident] = ranked[1].service -- logged when the leading candidate changes
      log.info("incident %s: probable root cause %s (%.2f): %s", s.incident, ranked[1].service,
               ranked[1].score, table.concat(ranked[1].evidence, "; "))
    end
  end,
}
