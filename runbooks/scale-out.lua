-- scale-out (level 3, remediate): add `step` replicas to a Kubernetes Deployment through its
-- scale subresource (GET, then PATCH /apis/apps/v1/namespaces/NS/deployments/NAME/scale with a
-- merge patch of spec.replicas), never beyond max_replicas. A HorizontalPodAutoscaler on the
-- same Deployment would undo it: raise the HPA's minReplicas instead there.
--
-- Level 3: started by a person (approved_by) or after approval.ask (`approvers`, denied on
-- timeout). Policy: per service, 10 minutes apart and at most 4 an hour.
-- Params: service (else the incident's), namespace, deployment (default: the service),
-- k8s_api, k8s_token (Bearer), step (1..20), max_replicas (1..500), approvers.
local http = require("tocsin.http")
local json = require("tocsin.json")
local approval = require("tocsin.approval")
local log = require("tocsin.log")

return {
  name = "scale-out",
  description = "Add replicas to a Kubernetes Deployment (scale subresource), up to a ceiling.",
  level = 3,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    namespace = { type = "string", default = "default", pattern = "[a-z0-9][a-z0-9%-]*" },
    deployment = { type = "string", default = "", pattern = "[a-z0-9%.%-]*" },
    k8s_api = { type = "string", default = "https://kubernetes.default.svc" },
    k8s_token = { type = "string", default = "" },
    step = { type = "integer", default = 2, min = 1, max = 20 },
    max_replicas = { type = "integer", default = 20, min = 1, max = 500 },
    approvers = { type = "table", default = {} },
  },
  policy = { cooldown_s = 600, max_per_hour = 4, max_concurrent = 2, key = "service" },

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" then error("no service: give params.service or start it for an incident", 0) end
    local name = p.deployment ~= "" and p.deployment or svc
    local url = string.format("%s/apis/apps/v1/namespaces/%s/deployments/%s/scale", p.k8s_api,
      p.namespace, name)
    local headers = { Accept = "application/json" }
    if p.k8s_token ~= "" then headers.Authorization = "Bearer " .. p.k8s_token end

    local r, err = http.get(url, { headers = headers, timeout = 10 })
    if not r then error("kubernetes API unreachable: " .. err, 0) end
    local current = 1
    if not r.dry_run then
      if r.status ~= 200 then
        error(string.format("GET %s/scale: HTTP %d %s", name, r.status, string.sub(r.body or "", 1, 200)), 0)
      end
      local scale = r.json or json.decode(r.body or "") or {}
      current = scale.spec and scale.spec.replicas
      if math.type(current) ~= "integer" then error("GET " .. name .. "/scale: no spec.replicas", 0) end
    end
    if current >= p.max_replicas then
      error(string.format("%s/%s already has %d replicas (max_replicas %d): not scaled", p.namespace,
        name, current, p.max_replicas), 0)
    end
    local want = math.min(current + p.step, p.max_replicas)

    if ctx.approved_by == "" then
      local ok, by = approval.ask {
        reason = string.format("scale %s/%s from %d to %d replicas?", p.namespace, name, current, want),
        who = #p.approvers > 0 and p.approvers or nil, timeout_s = 600, on_timeout = "deny" }
      if not ok then
        error(string.format("scale-out of %s/%s not approved (%s)", p.namespace, name, by), 0)
      end
    end

    local h = { ["Content-Type"] = "application/merge-patch+json" }
    for k, v in pairs(headers) do h[k] = v end
    r, err = http.request { method = "PATCH", url = url, headers = h, timeout = 10,
                            body = json.encode({ spec = { replicas = want } }) }
    if not r then error("kubernetes API unreachable: " .. err, 0) end
    if not r.dry_run and r.status ~= 200 then
      error(string.format("PATCH %s/scale: HTTP %d %s", name, r.status, string.sub(r.body or "", 1, 200)), 0)
    end
    log.info("scaled %s/%s from %d to %d replicas", p.namespace, name, current, want)
  end,
}
