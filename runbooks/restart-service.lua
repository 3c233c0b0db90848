-- restart-service (level 3, remediate): a rolling restart of a Kubernetes Deployment, the way
-- `kubectl rollout restart` does it: PATCH the pod template's annotation
-- kubectl.kubernetes.io/restartedAt (strategic merge patch on
-- /apis/apps/v1/namespaces/NS/deployments/NAME), then wait for the rollout (observedGeneration,
-- updatedReplicas and availableReplicas caught up with spec.replicas), then check the service's
-- health endpoint when one is given. A restart cannot be undone: nothing is compensated.
--
-- Level 3: a rule cannot start it under the default automate.max_level; a person starts it with
-- approved_by, else the run asks for approval (approval.ask, `approvers`, denied on timeout).
-- Policy: one restart per service every 15 minutes, at most 3 an hour (runaway guard).
-- Params: service (else the incident's), namespace, deployment (default: the service),
-- k8s_api, k8s_token (a service account token, Bearer), rollout_timeout_s, poll_s,
-- health_url ("" = no check; {service} and {namespace} are put in), health_tries, approvers.
local http = require("tocsin.http")
local json = require("tocsin.json")
local approval = require("tocsin.approval")
local steps = require("tocsin.steps")
local time = require("tocsin.time")
local log = require("tocsin.log")

-- The deployment's rollout state: done, and a description for the log.
local function rollout_state(d)
  local spec, st, meta = d.spec or {}, d.status or {}, d.metadata or {}
  local want = spec.replicas or 1
  local done = (st.observedGeneration or 0) >= (meta.generation or 0)
    and (st.updatedReplicas or 0) >= want and (st.availableReplicas or 0) >= want
    and (st.replicas or 0) <= want -- old pods gone
  return done, string.format("%d/%d updated, %d available, %d total", st.updatedReplicas or 0, want,
    st.availableReplicas or 0, st.replicas or 0)
end

return {
  name = "restart-service",
  description = "Rolling restart of a Kubernetes Deployment, then wait for the rollout and health.",
  level = 3,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    namespace = { type = "string", default = "default", pattern = "[a-z0-9][a-z0-9%-]*" },
    deployment = { type = "string", default = "", pattern = "[a-z0-9%.%-]*" },
    k8s_api = { type = "string", default = "https://kubernetes.default.svc" },
    k8s_token = { type = "string", default = "" },
    rollout_timeout_s = { type = "integer", default = 300, min = 10, max = 3600 },
    poll_s = { type = "integer", default = 10, min = 1, max = 300 },
    health_url = { type = "string", default = "" },
    health_tries = { type = "integer", default = 3, min = 1, max = 20 },
    approvers = { type = "table", default = {} },
  },
  policy = { cooldown_s = 900, max_per_hour = 3, max_concurrent = 2, key = "service" },
  triggers = { { command = "restart" } }, -- /tocsin restart service=... in chat

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" then error("no service: give params.service or start it for an incident", 0) end
    local name = p.deployment ~= "" and p.deployment or svc
    local url = string.format("%s/apis/apps/v1/namespaces/%s/deployments/%s", p.k8s_api,
      p.namespace, name)
    local headers = { Accept = "application/json" }
    if p.k8s_token ~= "" then headers.Authorization = "Bearer " .. p.k8s_token end

    if ctx.approved_by == "" then
      local ok, by, note = approval.ask {
        reason = string.format("rolling restart of deployment %s/%s (%s)?", p.namespace, name,
          ctx.incident and ctx.incident.id or "no incident"),
        who = #p.approvers > 0 and p.approvers or nil, timeout_s = 600, on_timeout = "deny" }
      if not ok then
        error(string.format("restart of %s/%s not approved (%s%s)", p.namespace, name, by,
          note ~= "" and (": " .. note) or ""), 0)
      end
      log.info("restart of %s/%s approved by %s", p.namespace, name, by)
    end

    local ok, report = steps.run {
      { name = "restart", run = function()
          local at = os.date("!%Y-%m-%dT%H:%M:%SZ", time.now() // 1000)
          local patch = { spec = { template = { metadata = { annotations = {
            ["kubectl.kubernetes.io/restartedAt"] = at } } } } }
          local h = { ["Content-Type"] = "application/strategic-merge-patch+json" }
          for k, v in pairs(headers) do h[k] = v end
          local r, err = http.request { method = "PATCH", url = url, headers = h,
                                        body = json.encode(patch), timeout = 10 }
          if not r then return nil, "kubernetes API unreachable: " .. err end
          if not r.dry_run and r.status ~= 200 then
            return nil, string.format("PATCH %s: HTTP %d %s", name, r.status,
              string.sub(r.body or "", 1, 200))
          end
          log.info("deployment %s/%s restarted at %s", p.namespace, name, at)
        end },
      { name = "rollout", run = function()
          local waited, last = 0
          while true do
            local r, err = http.get(url, { headers = headers, timeout = 10 })
            if r and r.dry_run then return true end
            if r and r.status == 200 then
              local done
              done, last = rollout_state(r.json or json.decode(r.body or "") or {})
              if done then
                log.info("rollout of %s/%s done: %s", p.namespace, name, last)
                return true
              end
            else
              last = r and ("HTTP " .. r.status) or err
            end
            if waited >= p.rollout_timeout_s then
              return nil, string.format("rollout not done after %d s (%s)", waited, last)
            end
            time.sleep(p.poll_s)
            waited = waited + p.poll_s
          end
        end },
      { name = "health", run = function()
          if p.health_url == "" then return true end
          local hurl = string.gsub(p.health_url, "{(%a+)}", { service = svc, namespace = p.namespace })
          local last
          for i = 1, p.health_tries do
            local r, err = http.get(hurl, { timeout = 5 })
            if r and (r.dry_run or (r.status >= 200 and r.status < 300)) then
              log.info("%s healthy after the restart (%s)", svc, r.dry_run and "dry run" or r.status)
              return true
            end
            last = r and ("HTTP " .. r.status) or err
            if i < p.health_tries then time.sleep(p.poll_s) end
          end
          return nil, string.format("%s unhealthy after the restart: %s", hurl, last)
        end },
    }
    if not ok then
      error(string.format("restart of %s/%s failed at step %s: %s", p.namespace, name,
        report.failed, report.error), 0)
    end
  end,
}
