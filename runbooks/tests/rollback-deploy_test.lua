-- Tests of runbooks/rollback-deploy.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local ARGO = "https://argocd-server.argocd.svc/api/v1/applications/payments"
local REV = { [40] = "0c1d2e3f4a5b", [41] = "1b2d3e4f5a6b", [42] = "9f3c2a1b0d9e" }

-- An Argo CD Application as GET /api/v1/applications/NAME returns it: deployed up to history id 42;
-- op = { phase, revision } of the last operation, health its health status.
local function app(op, health, automated)
  local history = {}
  for id = 40, 42 do
    history[#history + 1] = { id = id, revision = REV[id],
                              deployedAt = string.format("2025-11-%02dT10:00:00Z", id - 18),
                              source = { repoURL = "https://git.example.com/shop/deploy.git",
                                         path = "payments" } }
  end
  return { metadata = { name = "payments", namespace = "argocd" },
           spec = { project = "default", syncPolicy = automated and { automated = { prune = true } } or {} },
           status = { history = history, sync = { status = "OutOfSync", revision = REV[42] },
                      health = { status = health },
                      operationState = { phase = op[1], message = op[3] or "",
                                         syncResult = { revision = op[2] } } } }
end

return {
  ["approved by the starter: rolls back to the previous deployment, waits for Healthy and the health URL"] =
  function()
    local r = t.runbook("rollback-deploy", {
      approved_by = "alice", incident = t.fixture("incident-payments.json"),
      params = { argocd_token = "argo-token", health_url = "http://{service}.shop:8080/healthz" },
      http = {
        { method = "GET", url = "/applications/payments$", times = 1,
          json = app({ "Succeeded", REV[42] }, "Degraded") },
        { method = "POST", url = "/applications/payments/rollback$",
          json = app({ "Running", REV[41] }, "Degraded") },
        { method = "GET", url = "/applications/payments$", times = 1, -- the operation before ours
          json = app({ "Succeeded", REV[42] }, "Healthy") },
        { method = "GET", url = "/applications/payments$", times = 1,
          json = app({ "Running", REV[41] }, "Progressing") },
        { method = "GET", url = "/applications/payments$", json = app({ "Succeeded", REV[41] }, "Healthy") },
        { url = "healthz", status = 503, times = 1 },
        { url = "healthz", status = 200, body = "ok" },
      },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    t.eq(#r:calls("approval"), 0, "approved_by given: no ask")
    local q = r:calls("http")
    t.eq(#q, 7, "read, rollback, three reads of the operation, two health checks")
    t.eq({ q[1].method, q[1].url }, { "GET", ARGO })
    t.eq({ q[2].method, q[2].url }, { "POST", ARGO .. "/rollback" })
    t.eq(q[2].json, { name = "payments", id = 41, prune = false, dryRun = false })
    t.eq(q[2].headers, { Accept = "application/json", Authorization = "Bearer argo-token" })
    t.eq({ q[3].url, q[4].url, q[5].url }, { ARGO, ARGO, ARGO })
    t.eq({ q[6].url, q[7].url }, { "http://payments.shop:8080/healthz", "http://payments.shop:8080/healthz" })
    t.eq(#r:calls("sleep"), 3, "two waits for the operation (a stale one, then running), one for health")
    t.eq(r:calls("sleep")[1].seconds, 10)
    t.eq(r.logs[#r.logs].text, "payments healthy after the rollback")
  end,

  ["without approved_by it asks naming both revisions; a denial or auto-sync rolls nothing back"] = function()
    local r = t.runbook("rollback-deploy", {
      params = { service = "payments", approvers = { "bob" } }, approve = false, approver = "bob",
      note = "forward fix is merging",
      http = { { method = "GET", json = app({ "Succeeded", REV[42] }, "Degraded") } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "rollback of payments not approved (bob: forward fix is merging)")
    local a = r:calls("approval")
    t.eq(#a, 1)
    t.eq(a[1].who, { "bob" })
    t.eq(a[1].reason, "roll back Argo CD application payments from 9f3c2a1 (history 42) to 1b2d3e4 "
         .. "(history 41, deployed 2025-11-23T10:00:00Z)?")
    t.eq(#r:calls("http"), 1, "only the read")
    r = t.runbook("rollback-deploy", { params = { service = "payments" },
      http = { { method = "GET", json = app({ "Succeeded", REV[42] }, "Degraded", true) } } })
    t.eq(r.status, "failed")
    t.match(r.error, "^application payments has auto%-sync on %(spec%.syncPolicy%.automated%)")
    t.eq(#r:calls("approval"), 0, "refused before asking")
    t.eq(#r:calls("http"), 1)
  end,

  ["a failed rollback operation fails at step sync; an operation never done times out"] = function()
    local r = t.runbook("rollback-deploy", {
      approved_by = "alice",
      params = { service = "payments", history_id = 40, app_namespace = "team-a", project = "shop" },
      http = {
        { method = "GET", times = 1, json = app({ "Succeeded", REV[42] }, "Healthy") },
        { method = "POST", json = {} },
        { method = "GET",
          json = app({ "Failed", REV[40], "one or more objects failed to apply" }, "Degraded") },
      },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "rollback of payments failed at step sync: rollback operation Failed: "
         .. "one or more objects failed to apply")
    local q = r:calls("http")
    t.eq(q[1].url, ARGO .. "?appNamespace=team-a")
    t.eq(q[2].json, { name = "payments", id = 40, prune = false, dryRun = false, appNamespace = "team-a",
                      project = "shop" })
    r = t.runbook("rollback-deploy", {
      approved_by = "alice", params = { service = "payments", sync_timeout_s = 30, poll_s = 10 },
      http = {
        { method = "GET", times = 1, json = app({ "Succeeded", REV[42] }, "Degraded") },
        { method = "POST", json = {} },
        { method = "GET", json = app({ "Succeeded", REV[42] }, "Degraded") }, -- still the old operation
      },
    })
    t.eq(r.error, "rollback of payments failed at step sync: timed out waiting for application payments "
         .. "to be Healthy on 1b2d3e4 after 30 s (operation Succeeded on 9f3c2a1, health Degraded)")
    t.eq(#r:calls("sleep"), 3)
    t.eq(#r:calls("http"), 2 + 4, "read, rollback, reads at 0, 10, 20 and 30 s")
  end,

  ["deploy = webhook: POSTs the rollback with its token, then checks health; a 500 fails"] = function()
    local r = t.runbook("rollback-deploy", {
      approved_by = "alice", incident = t.fixture("incident-payments.json"),
      params = { deploy = "webhook", webhook_url = "https://deploy.example.com/hooks/rollback",
                 webhook_token = "s3cret", health_url = "http://payments/healthz" },
      http = { { url = "^https://deploy", status = 202, body = "queued" },
               { url = "healthz", status = 200 } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 2)
    t.eq({ q[1].method, q[1].url }, { "POST", "https://deploy.example.com/hooks/rollback" })
    t.eq(q[1].json, { action = "rollback", service = "payments", app = "payments",
                      incident = "INC-1764000000000-1", run = "TEST-1", approved_by = "alice" })
    t.eq(q[1].headers, { Accept = "application/json", Authorization = "Bearer s3cret" })
    r = t.runbook("rollback-deploy", {
      params = { service = "payments", deploy = "webhook", webhook_url = "https://deploy/h",
                 history_id = 7 },
      http = { { url = "^https://deploy", status = 500, body = "pipeline busy" } },
    })
    t.eq(r.error, "rollback of payments failed at step rollback: POST webhook: HTTP 500 pipeline busy")
    t.eq(r:calls("approval")[1].reason, "roll back payments through the deploy webhook to history id 7?")
    t.eq(r:calls("http")[1].json.history_id, 7)
    t.eq(r:calls("http")[1].json.approved_by, "tester", "the approver of the ask")
    t.eq(t.runbook("rollback-deploy", { params = { service = "payments", deploy = "webhook" } }).error,
         "deploy = webhook needs webhook_url")
  end,

  ["an unknown history id is refused listing the ids; bad parameters; a dry run only records"] = function()
    local read = { { method = "GET", json = app({ "Succeeded", REV[42] }, "Degraded") } }
    local r = t.runbook("rollback-deploy", { approved_by = "alice", http = read,
                                             params = { service = "payments", history_id = 12 } })
    t.eq(r.error, "application payments has no deployment with history id 12 (ids: 40, 41, 42)")
    t.eq(#r:calls("http"), 1)
    r = t.runbook("rollback-deploy", { approved_by = "alice",
                                       params = { service = "payments", history_id = 42 }, http = read })
    t.eq(r.error, "application payments is already at history id 42 (9f3c2a1)")
    t.eq(t.runbook("rollback-deploy", { params = { service = "x", deploy = "spinnaker" } }).status,
         "bad_params")
    t.eq(t.runbook("rollback-deploy", { params = { service = "x", history_id = -2 } }).status, "bad_params")
    r = t.runbook("rollback-deploy", { params = { service = "payments", health_url = "http://h/" },
                                       dry_run = true })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    t.eq(#r:calls("http"), 4, "read, rollback, one operation read, one health check: all recorded only")
    t.eq(r:calls("http")[2].json.id, 0)
  end,
}
