-- Tests of runbooks/diagnose-memory-pressure.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local MIB = 1024 * 1024

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- An instant-query vector of container series: { pod, container, value }.
local function vector(series)
  local result = {}
  for _, s in ipairs(series) do
    result[#result + 1] = { metric = { namespace = "shop", pod = s[1], container = s[2] },
                            value = { 1764000000, tostring(s[3]) } }
  end
  return { status = "success", data = { resultType = "vector", result = result } }
end

local function prom(ws, limits, growth, ooms)
  return {
    { url = "query=container_memory_working_set_bytes", json = vector(ws) },
    { url = "query=kube_pod_container_resource_limits", json = vector(limits) },
    { url = "query=deriv%%28", json = vector(growth) },
    { url = "query=increase%%28", json = vector(ooms) },
  }
end

local P1, P2 = "payments-7d9f-abcde", "payments-7d9f-fghij"
local E1, E2 = "payments%-7d9f%-abcde", "payments%-7d9f%-fghij" -- as Lua patterns

return {
  ["queries working set, limits, growth and OOM kills; closest to the limit first"] = function()
    local r = t.runbook("diagnose-memory-pressure", {
      incident = t.fixture("incident-payments.json"),
      params = { namespace = "shop", slack_url = "https://hooks.slack.com/services/T/B/x" },
      http = prom({ { P1, "app", 460 * MIB }, { P2, "app", 200 * MIB }, { P1, "sidecar", 30 * MIB } },
                  { { P1, "app", 512 * MIB }, { P2, "app", 512 * MIB } },
                  { { P1, "app", 104 * MIB / 3600 }, { P2, "app", -1 } },
                  { { P1, "app", 2 } }),
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 4)
    local sel = 'pod=~"payments-.*",namespace="shop"'
    t.eq(unescape(string.match(q[1].url, "query=(.*)")),
      'container_memory_working_set_bytes{' .. sel .. ',container!="",container!="POD"}')
    t.eq(unescape(string.match(q[2].url, "query=(.*)")),
      'kube_pod_container_resource_limits{resource="memory",' .. sel .. '}')
    t.match(unescape(string.match(q[3].url, "query=(.*)")),
      "^deriv%(container_memory_working_set_bytes{.*}%[30m%]%)$")
    t.match(unescape(string.match(q[4].url, "query=(.*)")), 'reason="OOMKilled"')
    local text = r:calls("notify")[1].message.text
    t.match(text, "^Memory pressure for payments %(3 container%(s%)%):")
    -- the fullest first: 460 of 512 MiB is 90%, past limit_max 0.9? 0.898: just below
    t.match(text, "\n• " .. E1 .. "/app: 460 MiB, 90%% of its 512 MiB limit\n")
    t.match(text, "• " .. E2 .. "/app: 200 MiB, 39%% of its 512 MiB limit")
    t.match(text, "• " .. E1 .. "/sidecar: 30 MiB, no limit")
    t.match(text, "Fastest growth: " .. E1 .. "/app, 104 MiB/h over 30m %(its limit in 30 min at that rate%)")
    t.match(text, "OOM%-killed in the last 30m: " .. E1 .. "/app %(2%)")
    t.match(text, "All below 90%% of their limits")
  end,

  ["flags containers past limit_max; no series is said plainly"] = function()
    local r = t.runbook("diagnose-memory-pressure", {
      params = { service = "payments", limit_max = 0.5, webhook = "http://hook" },
      http = prom({ { P1, "app", 300 * MIB } }, { { P1, "app", 512 * MIB } }, {}, {}),
    })
    t.eq(r.status, "ok", tostring(r.error))
    local n = r:calls("notify")[1]
    t.eq(n.target, "webhook")
    t.match(n.message.text, "%(above 50%%%)")
    t.match(n.message.text, "Near the limit: " .. E1 .. "/app")
    t.match(n.message.text, "No OOM kills")
    t.eq(n.message.near_limit, { P1 .. "/app" })
    r = t.runbook("diagnose-memory-pressure", { params = { service = "search", webhook = "http://hook" },
                                                 http = prom({}, {}, {}, {}) })
    t.eq(r.status, "ok")
    t.match(r:calls("notify")[1].message.text, "^Memory pressure for search: no container series match")
  end,

  ["fails clearly without a service or when Prometheus errors"] = function()
    local r = t.runbook("diagnose-memory-pressure", {})
    t.eq(r.status, "failed")
    t.eq(r.error, "no service: give params.service or start it for an incident")
    r = t.runbook("diagnose-memory-pressure", { params = { service = "payments" },
      http = { { status = 400, json = { status = "error", error = "parse error at char 3" } } } })
    t.eq(r.status, "failed")
    t.eq(r.error, "prometheus query failed (HTTP 400): parse error at char 3")
  end,
}
