-- Tests of runbooks/diagnose-latency.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function vector(v)
  return { status = "success", data = { resultType = "vector",
           result = { { metric = {}, value = { 1764000000, v } } } } }
end

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Prometheus answers told apart by the (URL-encoded) query they are for.
local function prom(p50, errors, saturation)
  return {
    { url = "histogram_quantile%%280%.5%%2C", json = vector(p50) },
    { url = "histogram_quantile%%280%.99%%2C", json = t.fixture("prom-vector-p99.json") },
    { url = "container_cpu_usage", json = saturation },
    { url = "5%.%.", json = vector(errors) },
  }
end

return {
  ["queries the four series of the incident's service and flags what is past threshold"] = function()
    local r = t.runbook("diagnose-latency", {
      incident = t.fixture("incident-payments.json"),
      params = { slack_url = "https://hooks.slack.com/services/T/B/x" },
      http = prom("0.042", "0.032", vector("0.71")),
    })
    t.eq(r.status, "ok", "status")
    local q = r:calls("http")
    t.eq(#q, 4, "four queries")
    for _, c in ipairs(q) do
      t.eq(c.method, "GET")
      t.match(c.url, "^http://prometheus:9090/api/v1/query%?query=")
    end
    t.eq(unescape(string.match(q[2].url, "query=(.*)")),
         'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket'
         .. '{service="payments"}[5m])))')
    t.eq(unescape(string.match(q[3].url, "query=(.*)")),
         'sum(rate(http_requests_total{service="payments",code=~"5.."}[5m])) / '
         .. 'sum(rate(http_requests_total{service="payments"}[5m]))')
    local n = r:calls("notify")
    t.eq(#n, 1)
    t.eq(n[1].target, "slack")
    t.eq(n[1].message.text, "Latency diagnosis for payments (5m): p50 42 ms, p99 930 ms (above 500 ms), "
         .. "errors 3.20% (above 1.00%), CPU saturation 71%. Past threshold: p99, errors")
  end,

  ["a series with no data is said so, and thresholds come from the parameters"] = function()
    local empty = { status = "success", data = { resultType = "vector", result = {} } }
    local r = t.runbook("diagnose-latency", {
      params = { service = "checkout", window = "15m", p99_slo_s = 1.0, webhook = "http://chat/h" },
      http = prom("0.2", "0.001", empty),
    })
    t.eq(r.status, "ok")
    t.match(r:calls("http")[1].url, "%%5B15m%%5D")
    local msg = r:calls("notify")[1].message
    t.eq(msg.text, "Latency diagnosis for checkout (15m): p50 200 ms, p99 930 ms, errors 0.10%, "
         .. "CPU saturation no data. All within thresholds")
    t.eq(msg.service, "checkout")
    t.eq(msg.metrics.p99, 0.93)
  end,

  ["a Prometheus error fails the run with its message"] = function()
    local r = t.runbook("diagnose-latency", {
      params = { service = "api" },
      http = { { url = "prometheus", status = 400, json = { status = "error", errorType = "bad_data",
                 error = "parse error at char 5" } } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "prometheus query failed (HTTP 400): parse error at char 5")
    r = t.runbook("diagnose-latency", { params = { service = "api" },
                                         http = { { url = "prometheus", error = "closed" } } })
    t.eq(r.error, "prometheus unreachable: closed")
  end,

  ["a dry run only records its queries and its post; bad thresholds are refused"] = function()
    local r = t.runbook("diagnose-latency", { params = { service = "api", webhook = "http://c/h" },
                                              dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 4, "recorded, not performed")
    t.match(r:calls("notify")[1].message.text, "p50 no data")
    t.eq(t.runbook("diagnose-latency", { params = { service = "api", error_slo = 2 } }).status,
         "bad_params")
  end,
}
