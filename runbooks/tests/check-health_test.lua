-- Tests of runbooks/check-health.lua (run by `tocsin test`).
local t = require("tocsin.testing")

return {
  ["probes each URL tries times, every_s apart, and notes the result on the incident"] = function()
    local r = t.runbook("check-health", {
      incident = t.fixture("incident-payments.json"),
      params = { urls = "http://{service}:8080/healthz, http://{service}:8080/ready", tries = 2,
                 webhook = "http://chat/hook" },
      http = { { url = "/healthz$", status = 200, body = "ok" },
               { url = "/ready$", status = 503, body = "warming up" } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "unhealthy: http://payments:8080/ready never passed")
    local q = r:calls("http")
    t.eq(#q, 4)
    t.eq({ q[1].url, q[2].url, q[3].url }, { "http://payments:8080/healthz", "http://payments:8080/healthz",
                                             "http://payments:8080/ready" })
    t.eq(#r:calls("sleep"), 2, "one pause between the two tries of each URL")
    t.eq(r:calls("sleep")[1].seconds, 2)
    local note = r:calls("incident")[1]
    t.eq(note.op, "annotate")
    t.match(note.note, "• http://payments:8080/healthz: 2/2 passed %(HTTP 200 ×2")
    t.match(note.note, "• http://payments:8080/ready: 0/2 passed %(HTTP 503 ×2")
    t.match(r:calls("notify")[1].message.text, "^Health of payments: 1 endpoint%(s%) never passed")
  end,

  ["expect_status and expect_body; connection errors count as failures"] = function()
    local r = t.runbook("check-health", {
      params = { urls = "http://a/h", service = "a", tries = 3, every_s = 0, expect_body = '"status":"UP"' },
      http = { { status = 200, body = '{"status":"UP"}', times = 1 },
               { status = 200, body = '{"status":"DOWN"}', times = 1 },
               { error = "connection refused" } },
    })
    t.eq(r.status, "ok", tostring(r.error))
    t.eq(#r:calls("sleep"), 0)
    t.match(r.logs[#r.logs].text, "1/3 passed")
    t.match(r.logs[#r.logs].text, "connection refused ×1")
    t.match(r.logs[#r.logs].text, 'HTTP 200 without "\\"status\\":\\"UP\\"" in the body ×1')
    r = t.runbook("check-health", { params = { urls = "http://a/h", tries = 1, expect_status = 204 },
                                   http = { { status = 200 } } })
    t.eq(r.status, "failed")
  end,

  ["needs a service for {service}"] = function()
    local r = t.runbook("check-health", {})
    t.eq(r.status, "failed")
    t.eq(r.error, "no service: give params.service, params.urls or start it for an incident")
  end,
}
