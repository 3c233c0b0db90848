-- causal: known root-to-symptom chains. A datastore, queue or node that is down, out of
-- memory, crash-looping or full makes the services that depend on it slow and failing: such a
-- symptom is attached to the incident of its cause, and a cause that comes after its symptoms
-- (detection at the root is often slower than at the callers) gathers their incidents into one.
--
-- A chain names Lua patterns for the alert or metric names of the cause and of the symptom,
-- how far (hops along dependencies) and how long after the cause a symptom may be, and how far
-- below an incident's lowest services a late cause may be to gather it.
-- Edit CHAINS to teach tocsin the chains of your own systems.
local incident = require("tocsin.incident")
local topology = require("tocsin.topology")
local log = require("tocsin.log")
local state = require("tocsin.state")
local grouping = require("tocsin.grouping")

local CHAINS = {
  {
    name = "a dependency is down or exhausted -> its callers are slow or failing",
    cause = { "[Dd]own$", "[Dd]own[A-Z_]", "Unreachable", "Unavailable", "NotReady",
              "ConnectionsExhausted", "ConnectionRefused", "TooManyConnections", "OutOfMemory",
              "OOM", "CrashLoop", "DiskFull", "Disk.*Full", "OutOfDisk", "ReplicationBroken",
              "ReplicationLag", "Deadlock", "LeaderElection", "NoLeader", "CertificateExpired" },
    symptom = { "Latency", "Slow", "Timeout", "TimedOut", "Error", "5xx", "Fail", "SLO", "Burn",
                "Availability", "Saturat", "QueueBacklog", "Retries", "Upstream", "Apdex",
                "span_latency", "span_error", "latency", "error" },
    max_hops = 1,    -- a symptom this far above a cause joins it (a direct caller)
    gather_hops = 1, -- a late cause gathers the incidents whose lowest services call it
    window_ms = 30 * 60 * 1000,
  },
}

-- Which services showed a cause or a symptom of each chain, and when last (state.seen[i]:
-- { cause = { [service] = ts }, symptom = { ... } }): recorded for every signal, so finding a
-- related incident looks at its services, not at each of its signals.
local function seen(i)
  state.seen = state.seen or {}
  state.seen[i] = state.seen[i] or { cause = {}, symptom = {} }
  return state.seen[i]
end

local function note(i, chain, s, svc)
  local k = seen(i)
  local ts = s.ts or 0
  if grouping.matches(s.name, chain.cause) then k.cause[svc] = math.max(k.cause[svc] or 0, ts) end
  if grouping.matches(s.name, chain.symptom) then
    k.symptom[svc] = math.max(k.symptom[svc] or 0, ts)
  end
end

-- Whether service m of incident inc showed a `kind` signal of chain i while inc was active.
local function showed(i, kind, m, inc, chain)
  local ts = seen(i)[kind][m]
  return ts ~= nil and ts >= (inc.started_ms or 0) - chain.window_ms
end

-- The nearest recent incident with a service that showed a cause of chain i and that svc
-- depends on within max_hops (0: the service itself).
local function find_cause(i, chain, svc)
  local best, best_d
  for _, inc in ipairs(grouping.recent(chain.window_ms, grouping.near(svc, chain.max_hops))) do
    for _, m in ipairs(inc.services or {}) do
      if showed(i, "cause", m, inc, chain) then
        local d = m == svc and 0 or topology.distance(svc, m, true)
        if d and d <= chain.max_hops and (not best_d or d < best_d) then
          best, best_d = inc, d
        end
      end
    end
  end
  return best, best_d
end

return {
  name = "causal",
  description = "Attach symptoms to the incident of their known cause (a dependency down).",

  on_signal = function(s)
    local svc = grouping.service(s)
    if not svc then return end
    for i, chain in ipairs(CHAINS) do note(i, chain, s, svc) end
    if s.incident or not topology.has(svc) then return end
    for ci, chain in ipairs(CHAINS) do
      if grouping.matches(s.name, chain.symptom) then
        local inc, d = find_cause(ci, chain, svc)
        if inc then
          incident.attach(inc.id, s)
          log.info("%s on %s is a symptom of the cause in incident %s (%d hop(s) down): %s",
                   s.name, svc, inc.id, d, chain.name)
          return
        end
      end
      if grouping.matches(s.name, chain.cause) then
        -- the cause came after its symptoms: their incidents become one, the oldest. An
        -- incident is its symptoms' when its lowest services (its root candidates so far) have
        -- symptoms and depend on svc: svc is then below everything it holds.
        local incs = {}
        for _, inc in ipairs(grouping.recent(chain.window_ms, grouping.near(svc, chain.gather_hops))) do
          for m in pairs(grouping.lowest(inc.services or {}, inc.service_info)) do
            if m ~= svc and showed(ci, "symptom", m, inc, chain) then
              local dd = topology.distance(m, svc, true)
              if dd and dd <= chain.gather_hops then
                incs[#incs + 1] = inc
                break
              end
            end
          end
        end
        if #incs > 0 then
          local into = incs[1]
          for i = 2, #incs do
            incident.merge(into.id, incs[i].id, { note = string.format(
              "%s on %s is their common cause", s.name, svc) })
          end
          incident.attach(into.id, s)
          log.info("%s on %s is the cause of the symptoms in incident %s (%d incident(s) merged)",
                   s.name, svc, into.id, #incs - 1)
          return
        end
      end
    end
  end,
}
