-- Tests of the shipped correlation and RCA rules (rules/*.lua), run by `tocsin test`: signals go
-- to the real correlation engine with these rules, on a simulated clock, and the tests look at
-- the incidents they made and the runbooks they asked for.
local t = require("tocsin.testing")

-- frontend -> checkout -> payments -> ledger; search on its own
local TOPOLOGY = {
  services = {
    { name = "frontend", depends_on = { "checkout", "search" } },
    { name = "checkout", depends_on = { "payments" } },
    { name = "payments", depends_on = { "ledger" } },
    { name = "ledger" },
    { name = "search" },
  },
}
local T0 = 1764000000000

local function harness()
  return t.rules { topology = TOPOLOGY, now = T0 }
end

local function open_incidents(h)
  local out = {}
  for _, inc in ipairs(h:incidents()) do
    if inc.state ~= "merged" and inc.state ~= "resolved" then out[#out + 1] = inc end
  end
  return out
end

local function services_of(inc)
  local s = {}
  for _, name in ipairs(inc.services) do s[#s + 1] = name end
  table.sort(s)
  return s
end

return {
  ["a cascade up the call graph is one incident, its root cause the lowest service"] = function()
    local h = harness()
    h:change { type = "deploy", service = "payments", title = "payments 2.4.0", version = "2.4.0",
               ts = T0 + 10000 }
    h:signal { name = "HighLatency", service = "payments", ts = T0 + 20000 }
    h:signal { name = "HighLatency", service = "checkout", ts = T0 + 50000 }
    h:signal { name = "HighErrorRate", service = "frontend", ts = T0 + 80000 }
    local open = open_incidents(h)
    t.eq(#open, 1, "one incident")
    t.eq(services_of(open[1]), { "checkout", "frontend", "payments" })
    t.eq(open[1].alert_count, 3)
    t.eq(open[1].rca[1].service, "payments", "the root cause")
    local why = table.concat(open[1].rca[1].evidence, "; ")
    t.match(why, "deploy \"payments 2.4.0\"")
    h:close()
  end,

  ["an unrelated service gets its own incident"] = function()
    local h = harness()
    h:signal { name = "HighLatency", service = "payments", ts = T0 + 1000 }
    h:signal { name = "DiskFull", service = "search", ts = T0 + 2000 }
    local open = open_incidents(h)
    t.eq(#open, 2)
    t.eq({ open[1].service, open[2].service }, { "payments", "search" })
    h:close()
  end,

  ["the same alert again is deduplicated into its incident"] = function()
    local h = harness()
    for i = 1, 3 do h:signal { name = "HighLatency", service = "checkout", ts = T0 + i * 1000 } end
    local open = open_incidents(h)
    t.eq(#open, 1)
    t.eq(#open[1].alerts, 3)
    h:close()
  end,

  ["a new incident asks for the on-call notification"] = function()
    local h = harness()
    h:signal { name = "HighErrorRate", service = "checkout", ts = T0 + 1000 }
    local asked = h:runbooks()
    t.truthy(#asked >= 1, "a runbook was asked for")
    t.eq(asked[1].runbook, "notify-oncall")
    t.eq(asked[1].incident, open_incidents(h)[1].id)
    h:close()
  end,

  ["resolved alerts clear their incident, which resolves after correlate.clear_s"] = function()
    local h = harness()
    h:signal { name = "HighLatency", service = "ledger", fingerprint = "fp-ledger", ts = T0 + 1000 }
    t.eq(#open_incidents(h), 1)
    t.eq(h:clear("fp-ledger"), 1, "one member cleared")
    h:advance(301)
    t.eq(#open_incidents(h), 0, "resolved after clear_s")
    t.eq(h:incidents()[1].state, "resolved")
    h:close()
  end,

  ["causal: a dependency that goes down late gathers its callers' incidents"] = function()
    local h = harness()
    h:signal { name = "HighLatency", service = "checkout", ts = T0 + 1000 }
    h:signal { name = "HighErrorRate", service = "frontend", ts = T0 + 2000 }
    -- the callers were noticed first; then their dependency reports its own failure
    h:signal { name = "PaymentsDown", service = "payments", ts = T0 + 60000 }
    local open = open_incidents(h)
    t.eq(#open, 1, "gathered into one")
    t.eq(services_of(open[1]), { "checkout", "frontend", "payments" })
    t.eq(open[1].rca[1].service, "payments")
    h:close()
  end,

  ["pattern: the same alert on many pods of an unknown service is one incident"] = function()
    local h = harness()
    for i = 1, 4 do
      h:signal { name = "PodCrashLooping", service = "", ts = T0 + i * 1000,
                 labels = { alertname = "PodCrashLooping", namespace = "batch", pod = "worker-" .. i } }
    end
    t.eq(#open_incidents(h), 1)
    t.eq(#open_incidents(h)[1].alerts, 4)
    h:close()
  end,

  ["time-window: a quiet service starts a new incident after the window"] = function()
    local h = harness()
    h:signal { name = "QueueBacklog", service = "search", ts = T0 + 1000 }
    h:signal { name = "QueueBacklog2", service = "search", ts = T0 + 5 * 60000 }
    t.eq(#open_incidents(h), 1, "within 10 minutes: the same incident")
    h:signal { name = "QueueBacklog3", service = "search", ts = T0 + 30 * 60000 }
    local open = open_incidents(h)
    t.eq(#open, 1, "the old one is resolved, a new one is open")
    t.eq(#h:incidents(), 2)
    t.eq(h:incidents()[1].state, "resolved")
    h:close()
  end,

  ["a rule file with an error fails the harness loudly"] = function()
    local ok, err = pcall(t.rules, { rules = "/nonexistent/rules" })
    t.eq(ok, false)
    t.match(tostring(err), "no rules in /nonexistent/rules")
  end,
}
