-- Tests of runbooks/restart-service.lua (run by `tocsin test`).
local t = require("tocsin.testing")
local json = require("tocsin.json")

local API = "https://kubernetes.default.svc/apis/apps/v1/namespaces/shop/deployments/payments"

-- A Deployment as the API returns it, with the rollout state given.
local function deployment(updated, available, total)
  return { kind = "Deployment", apiVersion = "apps/v1",
           metadata = { name = "payments", namespace = "shop", generation = 5 },
           spec = { replicas = 3 },
           status = { observedGeneration = 5, replicas = total, updatedReplicas = updated,
                      availableReplicas = available } }
end

-- tocsin.testing gives the first stub matching a request each time: no sequence of answers for
-- one URL. This stub matches once (the fake reads its url for every request it considers).
local function once(stub)
  local url, used = stub.url, false
  stub.url = nil
  return setmetatable(stub, { __index = function(_, k)
    if k ~= "url" then return nil end
    if used then return "^$never" end
    used = true
    return url
  end })
end

return {
  ["approved by the starter: PATCHes restartedAt, waits for the rollout and the health check"] = function()
    local r = t.runbook("restart-service", {
      approved_by = "alice", incident = t.fixture("incident-payments.json"),
      params = { namespace = "shop", k8s_token = "sa-token",
                 health_url = "http://{service}.{namespace}:8080/healthz" },
      http = {
        { method = "PATCH", url = "/deployments/payments$", json = deployment(0, 3, 3) },
        once { method = "GET", url = "/deployments/payments$", json = deployment(1, 3, 4) },
        { method = "GET", url = "/deployments/payments$", json = deployment(3, 3, 3) },
        { url = "healthz", status = 200, body = "ok" },
      },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    t.eq(#r:calls("approval"), 0, "approved_by given: no ask")
    local q = r:calls("http")
    t.eq(q[1].method, "PATCH")
    t.eq(q[1].url, API)
    t.eq(q[1].headers, { ["Content-Type"] = "application/strategic-merge-patch+json",
                         Accept = "application/json", Authorization = "Bearer sa-token" })
    t.eq(json.decode(q[1].body), { spec = { template = { metadata = { annotations = {
      ["kubectl.kubernetes.io/restartedAt"] = "2025-11-24T16:00:00Z" } } } } })
    t.eq(q[2].method, "GET")
    t.eq(q[#q].url, "http://payments.shop:8080/healthz")
    t.match(r.logs[#r.logs].text, "payments healthy after the restart")
    t.eq(#q, 4, "PATCH, two reads of the rollout, one health check")
    t.eq(#r:calls("sleep"), 1, "one poll interval")
  end,

  ["without approved_by it asks, and a denial restarts nothing"] = function()
    local r = t.runbook("restart-service", { params = { service = "payments", approvers = { "bob" } },
                                             approve = false, approver = "bob", note = "wait for the fix" })
    t.eq(r.status, "failed")
    t.eq(r.error, "restart of default/payments not approved (bob: wait for the fix)")
    local a = r:calls("approval")
    t.eq(#a, 1)
    t.eq(a[1].who, { "bob" })
    t.match(a[1].reason, "rolling restart of deployment default/payments")
    t.eq(#r:calls("http"), 0, "nothing sent")
  end,

  ["a rollout that never completes fails after rollout_timeout_s, polling every poll_s"] = function()
    local r = t.runbook("restart-service", {
      approved_by = "alice", params = { service = "payments", namespace = "shop",
                                        rollout_timeout_s = 30, poll_s = 10 },
      http = { { method = "PATCH", status = 200, json = {} },
               { method = "GET", json = deployment(1, 2, 4) } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "restart of shop/payments failed at step rollout: rollout not done after 30 s "
         .. "(1/3 updated, 2 available, 4 total)")
    t.eq(#r:calls("sleep"), 3)
    t.eq(#r:calls("http"), 1 + 4, "one PATCH, four reads")
  end,

  ["a refused PATCH fails naming the status; a dry run performs nothing"] = function()
    local r = t.runbook("restart-service", {
      approved_by = "alice", params = { service = "payments" },
      http = { { method = "PATCH", status = 403, body = '{"kind":"Status","reason":"Forbidden"}' } },
    })
    t.eq(r.status, "failed")
    t.match(r.error, "failed at step restart: PATCH payments: HTTP 403 {\"kind\":\"Status\"")
    r = t.runbook("restart-service", { params = { service = "payments", health_url = "http://h/" },
                                       dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 3, "PATCH, one rollout read and one health check, all recorded only")
  end,

  ["bad parameters are refused before anything runs"] = function()
    t.eq(t.runbook("restart-service", { params = { service = "x", poll_s = 0 } }).status, "bad_params")
    t.eq(t.runbook("restart-service", { params = { service = "x", rollout_timeout_s = "5m" } }).status,
         "bad_params")
  end,
}
