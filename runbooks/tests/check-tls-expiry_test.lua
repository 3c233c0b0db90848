-- Tests of runbooks/check-tls-expiry.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local NOW = 1764000000 -- the fake clock: 2025-11-24T16:00:00Z
local DAY = 86400

-- probe_ssl_earliest_cert_expiry series as Prometheus returns them: { instance, expiry (s), job }.
local function vector(series)
  local result = {}
  for _, s in ipairs(series) do
    result[#result + 1] = { metric = { __name__ = "probe_ssl_earliest_cert_expiry", instance = s[1],
                                       job = s[3] or "blackbox" },
                            value = { NOW, string.format("%d", s[2]) } }
  end
  return { status = "success", data = { resultType = "vector", result = result } }
end

return {
  ["all probes: days left, soonest first, one line per target, those below the threshold flagged"] =
  function()
    local r = t.runbook("check-tls-expiry", {
      params = { slack_url = "https://hooks.slack.com/services/T/B/x" },
      http = { { url = "^http://prometheus:9090/api/v1/query%?query=", json = vector {
        { "https://api.example.com", NOW + 90 * DAY, "blackbox-http" },
        { "https://shop.example.com", NOW + 5.5 * DAY },
        { "https://api.example.com", NOW + 40 * DAY },
        { "https://old.example.com", NOW - 2 * DAY } } } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 1)
    t.eq(q[1].method, "GET")
    t.eq(unescape(string.match(q[1].url, "query=(.*)")), "probe_ssl_earliest_cert_expiry")
    local n = r:calls("notify")
    t.eq(#n, 1)
    t.eq(n[1].target, "slack")
    t.eq(n[1].message.text, "TLS expiry of all probes: 3 certificate(s), 2 below 14 days:\n"
         .. "• https://old.example.com: EXPIRED 2.0 days ago (expires 2025-11-22 16:00 UTC) (below 14 days)\n"
         .. "• https://shop.example.com: 5.5 days left (expires 2025-11-30 04:00 UTC) (below 14 days)\n"
         .. "• https://api.example.com: 40.0 days left (expires 2026-01-03 16:00 UTC)")
    t.eq(r.logs[1].level, "warn")
  end,

  ["one target: its instance is matched, the webhook gets the figures, nothing flagged"] = function()
    local r = t.runbook("check-tls-expiry", {
      params = { target = "https://api.example.com", selector = 'job="blackbox"', threshold_days = 30,
                 webhook = "http://chat/h" },
      http = { { url = "prometheus", json = vector { { "https://api.example.com", NOW + 40 * DAY } } } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    t.eq(unescape(string.match(r:calls("http")[1].url, "query=(.*)")),
         'probe_ssl_earliest_cert_expiry{job="blackbox",instance="https://api.example.com"}')
    local msg = r:calls("notify")[1].message
    t.eq(msg.text, "TLS expiry of https://api.example.com: 1 certificate(s), 0 below 30 days:\n"
         .. "• https://api.example.com: 40.0 days left (expires 2026-01-03 16:00 UTC)")
    t.eq(msg.certificates, { { instance = "https://api.example.com", expiry_ts = NOW + 40 * DAY,
                               days_left = 40.0, below = false } })
    t.eq(msg.below, {})
    t.eq(msg.target, "https://api.example.com")
    t.eq(r.logs[1].level, "info")
  end,

  ["a target without series fails saying so; a Prometheus error too; top bounds the lines"] = function()
    local r = t.runbook("check-tls-expiry", { params = { target = "shop.example.com:443" },
                                              http = { { url = "prometheus", json = vector {} } } })
    t.eq(r.status, "failed")
    t.eq(r.error, 'no probe_ssl_earliest_cert_expiry{instance="shop.example.com:443"} series for '
         .. "shop.example.com:443: not probed, not over TLS, or the probe fails")
    t.eq(#r:calls("notify"), 0)
    r = t.runbook("check-tls-expiry", { http = { { url = "prometheus", error = "timeout" } } })
    t.eq(r.error, "prometheus unreachable: timeout")
    r = t.runbook("check-tls-expiry", {
      params = { top = 1, webhook = "http://chat/h" },
      http = { { url = "prometheus", json = vector { { "a", NOW + 100 * DAY }, { "b", NOW + 200 * DAY },
                                                    { "c", NOW + 300 * DAY } } } },
    })
    t.eq(r.status, "ok")
    t.eq(r:calls("notify")[1].message.text, "TLS expiry of all probes: 3 certificate(s), 0 below 14 days:\n"
         .. "• a: 100.0 days left (expires 2026-03-04 16:00 UTC)\n… and 2 more")
  end,

  ["a target with quotes cannot reach PromQL; a dry run only records; undelivered fails"] = function()
    t.eq(t.runbook("check-tls-expiry", { params = { target = 'x"} or vector(1) #' } }).status, "bad_params")
    t.eq(t.runbook("check-tls-expiry", { params = { threshold_days = 0 } }).status, "bad_params")
    local r = t.runbook("check-tls-expiry", { params = { webhook = "http://c/h" }, dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 1)
    t.eq(r:calls("notify")[1].message.text, "TLS expiry of all probes: dry run, no data")
    r = t.runbook("check-tls-expiry", {
      params = { webhook = "http://chat/h" },
      http = { { url = "prometheus", json = vector { { "a", NOW + DAY } } } },
      notify = { { kind = "webhook", error = "closed" } },
    })
    t.eq(r.error, "TLS expiry summary for all probes not delivered: closed")
  end,
}
