-- Tests of runbooks/forecast-disk-full.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local GIB = 1024 * 1024 * 1024

local function vector(series)
  local result = {}
  for _, s in ipairs(series) do
    result[#result + 1] = { metric = { __name__ = "node_filesystem_avail_bytes", device = "/dev/sda1",
      fstype = "ext4", instance = s[1], job = "node", mountpoint = s[2] },
      value = { 1764000000, tostring(s[3]) } }
  end
  return { status = "success", data = { resultType = "vector", result = result } }
end

return {
  ["reports each filesystem predicted full, worst first, to chat and PagerDuty; nothing else"] = function()
    local r = t.runbook("forecast-disk-full", {
      params = { slack_url = "https://hooks.slack.com/services/T/B/x", pd_routing_key = "R0UT1NGKEY000000" },
      http = { { url = "^http://prometheus:9090/api/v1/query", json = vector {
        { "db-1:9100", "/var/lib/postgresql", -2.5 * GIB }, { "web-3:9100", "/", -12 * GIB } } } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 1, "one query, no other action")
    t.eq(q[1].method, "GET")
    t.eq(unescape(string.match(q[1].url, "query=(.*)")), 'predict_linear(node_filesystem_avail_bytes'
         .. '{fstype!~"tmpfs|overlay|squashfs",mountpoint!~"/boot.*"}[6h], 86400) < 0')
    local n = r:calls("notify")
    t.eq(#n, 3, "one chat message, two PagerDuty events")
    t.eq(n[1].target, "slack")
    t.eq(n[1].message.text, "2 filesystem(s) predicted to fill within 24 h:\n"
         .. "• web-3:9100 /: full within 24 h (12.0 GiB short at the trend of 6h)\n"
         .. "• db-1:9100 /var/lib/postgresql: full within 24 h (2.5 GiB short at the trend of 6h)")
    t.eq(n[3].target, "pagerduty")
    t.eq(n[3].message.action, "trigger")
    t.eq(n[3].message.dedup_key, "disk-full/db-1:9100//var/lib/postgresql")
    t.eq(n[3].message.severity, "warning")
    t.eq(n[3].message.source, "db-1:9100")
    t.eq(#r:calls("exec") + #r:calls("emit") + #r:calls("approval"), 0)
  end,

  ["nothing predicted: a log line and no message"] = function()
    local r = t.runbook("forecast-disk-full", {
      params = { webhook = "http://chat/h", horizon_h = 72, trend = "1d" },
      http = { { url = "prometheus", json = vector {} } },
    })
    t.eq(r.status, "ok")
    t.match(unescape(r:calls("http")[1].url), "%[1d%], 259200%) < 0$")
    t.eq(#r:calls("notify"), 0)
    t.eq(r.logs[1].text, "no filesystem predicted to fill within 72 h")
  end,

  ["an undelivered report fails the run; a Prometheus error too"] = function()
    local r = t.runbook("forecast-disk-full", {
      params = { webhook = "http://chat/h" },
      http = { { url = "prometheus", json = vector { { "db-1:9100", "/data", -1 * GIB } } } },
      notify = { { kind = "webhook", error = "unavailable: 503 " } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "forecast not delivered: chat: unavailable: 503 ")
    t.eq(r:calls("notify")[1].message.filesystems[1].mountpoint, "/data")
    r = t.runbook("forecast-disk-full",
                  { http = { { url = "prometheus", status = 503, body = "overloaded" } } })
    t.eq(r.error, "prometheus query failed (HTTP 503): overloaded")
  end,

  ["it runs hourly at most, one at a time; a horizon beyond 30 days is refused"] = function()
    local r = t.runbook("forecast-disk-full", { params = { horizon_h = 24 * 31 } })
    t.eq(r.status, "bad_params")
    t.eq(r.book.triggers, { { every_s = 3600 } })
    t.eq(r.book.policy.max_concurrent, 1)
  end,
}
