-- Tests of runbooks/enrich-incident.lua (run by `tocsin test`).
local t = require("tocsin.testing")
local json = require("tocsin.json")

local NOW = 1764000000000 -- 2025-11-24T16:00:00Z, the fake clock's default

local function decode_query(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

return {
  ["posts dashboard, logs and the annotated deploys of the incident's service to Slack"] = function()
    local r = t.runbook("enrich-incident", {
      incident = t.fixture("incident-payments.json"),
      params = { slack_url = "https://hooks.slack.com/services/T/B/x", grafana_token = "tok" },
      http = { { url = "^http://grafana:3000/api/annotations", json = {
        { id = 7, time = 1763998200000, text = "payments v2.4.1 deployed", tags = { "deploy", "payments" } },
      } } },
    })
    t.eq(r.status, "ok", "status")
    local q = r:calls("http")
    t.eq(#q, 1, "one annotations query")
    t.eq(q[1].method, "GET")
    t.eq(q[1].url, "http://grafana:3000/api/annotations?tags=deploy&tags=payments&from="
         .. (NOW - 3600000) .. "&to=" .. NOW .. "&limit=5")
    t.eq(q[1].headers, { Authorization = "Bearer tok" })
    local n = r:calls("notify")
    t.eq(#n, 1)
    t.eq(n[1].target, "slack")
    t.eq(n[1].url, "https://hooks.slack.com/services/T/B/x")
    local text = n[1].message.text
    t.match(text, "^%*INC%-1764000000000%-1 payments%*: <http://grafana:3000/d/service%-overview"
                  .. "%?var%-service=payments&from=1763996400000&to=1764000000000|dashboard>")
    t.match(text, "• 15:30 UTC payments v2%.4%.1 deployed")
    -- the logs link is a Grafana Explore URL whose panes hold the LogQL query for the service
    local panes = json.decode(decode_query(string.match(text, "panes=([^|]+)|error logs")))
    t.eq(panes.a.queries[1].expr, '{service="payments"} |~ "(?i)error|exception|panic"')
    t.eq(panes.a.queries[1].datasource, { type = "loki", uid = "loki" })
  end,

  ["deploys given by the rule are used as they are, without asking Grafana"] = function()
    local r = t.runbook("enrich-incident", {
      params = { service = "checkout", webhook = "http://chat.example/hook",
                 deploys = { { version = "1.9.0", ts = 1763999100000, by = "ci" } } },
    })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 0, "no annotations query")
    local n = r:calls("notify")[1]
    t.eq(n.target, "webhook")
    t.eq(n.url, "http://chat.example/hook")
    t.eq(n.message.service, "checkout")
    t.match(n.message.text, "• 15:45 UTC 1%.9%.0 by ci")
    t.match(n.message.links.dashboard, "var%-service=checkout")
  end,

  ["a failing annotations API is logged and the links still go out"] = function()
    local r = t.runbook("enrich-incident", {
      params = { service = "payments" },
      config = { ["notify.webhook_url"] = "http://chat.example/hook" },
      http = { { url = "/api/annotations", status = 401, body = "Unauthorized" } },
    })
    t.eq(r.status, "ok")
    t.match(r.logs[1].text, "recent deploys of payments unknown: annotations query failed %(HTTP 401%)")
    t.match(r:calls("notify")[1].message.text, "No deploys in the last 60 min%.")
  end,

  ["without a service it fails saying so; an undelivered post fails naming the reason"] = function()
    local r = t.runbook("enrich-incident", { params = { webhook = "http://chat/x" } })
    t.eq(r.status, "failed")
    t.match(r.error, "no service")
    r = t.runbook("enrich-incident", {
      params = { service = "api", slack_url = "https://h/x" },
      notify = { { kind = "slack", error = "rejected: 404 channel_not_found" } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "enrichment of api not delivered: rejected: 404 channel_not_found")
  end,

  ["a lookback under 5 minutes is refused"] = function()
    local r = t.runbook("enrich-incident", { params = { service = "api", lookback_s = 10 } })
    t.eq(r.status, "bad_params")
    t.match(r.error, "lookback_s.*at least 300")
  end,
}
