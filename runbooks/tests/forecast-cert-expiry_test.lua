-- Tests of runbooks/forecast-cert-expiry.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local DAY = 86400 -- the fake clock is 2025-11-24T16:00:00Z

-- The answer to `min by (instance) (...) - time() < N`: seconds left per target.
local function vector(series)
  local result = {}
  for _, s in ipairs(series) do
    result[#result + 1] = { metric = { instance = s[1] }, value = { 1764000000, tostring(s[2]) } }
  end
  return { status = "success", data = { resultType = "vector", result = result } }
end

return {
  ["reports each certificate expiring within the horizon, soonest first, to chat and PagerDuty"] = function()
    local r = t.runbook("forecast-cert-expiry", {
      params = { slack_url = "https://hooks.slack.com/services/T/B/x", pd_routing_key = "R0UT1NGKEY000000" },
      http = { { url = "^http://prometheus:9090/api/v1/query", json = vector {
        { "https://api.example.com", 21 * DAY }, { "https://shop.example.com", 5.5 * DAY },
        { "https://old.example.com", -2 * DAY } } } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 1, "one query, no other action")
    t.eq(q[1].method, "GET")
    t.eq(unescape(string.match(q[1].url, "query=(.*)")),
         "min by (instance) (probe_ssl_earliest_cert_expiry) - time() < 2592000")
    local n = r:calls("notify")
    t.eq(#n, 4, "one chat message, three PagerDuty events")
    t.eq(n[1].target, "slack")
    t.eq(n[1].message.text, "3 certificate(s) expire within 30 days:\n"
         .. "• https://old.example.com: EXPIRED 2.0 days ago (2025-11-22T16:00:00Z)\n"
         .. "• https://shop.example.com: expires in 5.5 days (2025-11-30T04:00:00Z)\n"
         .. "• https://api.example.com: expires in 21.0 days (2025-12-15T16:00:00Z)")
    local pd = {}
    for i = 2, 4 do
      t.eq(n[i].target, "pagerduty")
      local m = n[i].message
      pd[#pd + 1] = { m.dedup_key, m.severity, m.summary }
      t.eq({ m.action, m.routing_key, m.source, m.component },
           { "trigger", "R0UT1NGKEY000000", string.sub(m.dedup_key, 13), "tls" })
    end
    t.eq(pd, {
      { "cert-expiry/https://old.example.com", "critical",
        "TLS certificate of https://old.example.com has expired" },
      { "cert-expiry/https://shop.example.com", "critical",
        "TLS certificate of https://shop.example.com expires in 5.5 days" },
      { "cert-expiry/https://api.example.com", "warning",
        "TLS certificate of https://api.example.com expires in 21.0 days" } })
    t.eq(n[4].message.custom_details,
         { days_left = 21.0, expires_at = "2025-12-15T16:00:00Z", horizon_days = 30 })
    t.eq(#r:calls("exec") + #r:calls("emit") + #r:calls("approval"), 0)
  end,

  ["nothing expiring: a log line and no message; the selector and horizon shape the query"] = function()
    local r = t.runbook("forecast-cert-expiry", {
      params = { webhook = "http://chat/h", selector = 'job="blackbox",module="https_2xx"',
                 horizon_days = 60 },
      http = { { url = "prometheus", json = vector {} } },
    })
    t.eq(r.status, "ok")
    t.eq(unescape(string.match(r:calls("http")[1].url, "query=(.*)")), 'min by (instance) '
         .. '(probe_ssl_earliest_cert_expiry{job="blackbox",module="https_2xx"}) - time() < 5184000')
    t.eq(#r:calls("notify"), 0)
    t.eq(r.logs[1].text, "no probed certificate expires within 60 days")
  end,

  ["an undelivered report fails the run naming what failed; a Prometheus error too"] = function()
    local r = t.runbook("forecast-cert-expiry", {
      params = { webhook = "http://chat/h", pd_routing_key = "R0UT1NGKEY000000", critical_days = 0 },
      http = { { url = "prometheus", json = vector { { "db.example.com:5432", 3 * DAY } } } },
      notify = { { kind = "webhook", error = "unavailable: 503 " },
                 { kind = "pagerduty", error = "rejected: 400 invalid routing key" } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "forecast not delivered: chat: unavailable: 503 ; "
         .. "pagerduty db.example.com:5432: rejected: 400 invalid routing key")
    local n = r:calls("notify")
    t.eq(n[1].message.certificates, { { instance = "db.example.com:5432", days_left = 3.0,
                                        expires_at = "2025-11-27T16:00:00Z", severity = "warning" } })
    t.eq(n[2].message.severity, "warning", "critical_days = 0: only expired ones are critical")
    r = t.runbook("forecast-cert-expiry",
                  { http = { { url = "prometheus", status = 503, body = "overloaded" } } })
    t.eq(r.error, "prometheus query failed (HTTP 503): overloaded")
  end,

  ["it runs daily, one at a time, without a person; a horizon beyond a year is refused"] = function()
    local r = t.runbook("forecast-cert-expiry", { params = { horizon_days = 366 } })
    t.eq(r.status, "bad_params")
    t.eq(r.book.triggers, { { every_s = 86400 } })
    t.eq(r.book.policy, { max_concurrent = 1, key = "runbook", max_level = 4 })
    r = t.runbook("forecast-cert-expiry", { params = { pd_routing_key = "R0UT1NGKEY000000" },
                                            dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 1, "the query, recorded only")
    t.eq(#r:calls("notify"), 0)
  end,
}
