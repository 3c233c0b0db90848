-- Tests of runbooks/scale-out.lua (run by `tocsin test`).
local t = require("tocsin.testing")
local json = require("tocsin.json")

local API = "https://kubernetes.default.svc/apis/apps/v1/namespaces/shop/deployments/payments/scale"

local function scale(n)
  return { kind = "Scale", apiVersion = "autoscaling/v1",
           metadata = { name = "payments", namespace = "shop" },
           spec = { replicas = n }, status = { replicas = n, selector = "app=payments" } }
end

return {
  ["reads the scale, asks, and PATCHes spec.replicas up by step"] = function()
    local r = t.runbook("scale-out", {
      incident = t.fixture("incident-payments.json"),
      params = { namespace = "shop", step = 3, k8s_token = "sa" },
      http = { { method = "GET", url = "/scale$", json = scale(4) },
               { method = "PATCH", url = "/scale$", json = scale(7) } },
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 2)
    t.eq({ q[1].method, q[1].url }, { "GET", API })
    t.eq({ q[2].method, q[2].url }, { "PATCH", API })
    t.eq(q[2].headers, { ["Content-Type"] = "application/merge-patch+json", Accept = "application/json",
                         Authorization = "Bearer sa" })
    t.eq(json.decode(q[2].body), { spec = { replicas = 7 } })
    t.eq(r:calls("approval")[1].reason, "scale shop/payments from 4 to 7 replicas?")
    t.eq(r.logs[#r.logs].text, "scaled shop/payments from 4 to 7 replicas")
  end,

  ["never beyond max_replicas; at the ceiling it refuses without asking"] = function()
    local r = t.runbook("scale-out", { approved_by = "alice",
      params = { service = "payments", namespace = "shop", max_replicas = 5 },
      http = { { method = "GET", json = scale(4) }, { method = "PATCH", json = scale(5) } } })
    t.eq(r.status, "ok")
    t.eq(#r:calls("approval"), 0, "approved_by given")
    t.eq(json.decode(r:calls("http")[2].body), { spec = { replicas = 5 } })
    r = t.runbook("scale-out", { params = { service = "payments", namespace = "shop", max_replicas = 5 },
                                 http = { { method = "GET", json = scale(5) } } })
    t.eq(r.status, "failed")
    t.eq(r.error, "shop/payments already has 5 replicas (max_replicas 5): not scaled")
    t.eq(#r:calls("http"), 1)
    t.eq(#r:calls("approval"), 0)
  end,

  ["a denial or an API error changes nothing and says why"] = function()
    local r = t.runbook("scale-out", { params = { service = "payments" }, approve = false, approver = "bob",
                                       http = { { method = "GET", json = scale(2) } } })
    t.eq(r.status, "failed")
    t.eq(r.error, "scale-out of default/payments not approved (bob)")
    t.eq(#r:calls("http"), 1, "only the read")
    r = t.runbook("scale-out", {
      params = { service = "payments" },
      http = { { method = "GET", status = 404, body = '{"reason":"NotFound"}' } },
    })
    t.eq(r.error, 'GET payments/scale: HTTP 404 {"reason":"NotFound"}')
  end,

  ["typed parameters: a step of 0 or 50 is refused; a dry run only records"] = function()
    t.eq(t.runbook("scale-out", { params = { service = "x", step = 0 } }).status, "bad_params")
    t.eq(t.runbook("scale-out", { params = { service = "x", step = 50 } }).status, "bad_params")
    local r = t.runbook("scale-out", { params = { service = "payments" }, dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 2)
  end,
}
