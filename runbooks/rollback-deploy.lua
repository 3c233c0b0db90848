-- rollback-deploy (level 3, remediate): roll a service back to its previous deployment through
-- the deploy system, then verify it. Two ways:
--   deploy = "argocd": Argo CD's API. GET /api/v1/applications/APP reads the deployment history
--     (status.history: id, revision, deployedAt); the target is `history_id`, or by default the
--     deployment before the current one. An application with auto-sync on is refused before
--     anything is asked (Argo CD refuses to roll those back: the controller would sync it back
--     to Git). Then POST /api/v1/applications/APP/rollback {"name", "id", "prune", "dryRun"}
--     (+ appNamespace, project), and wait until the rollback's operation has Succeeded on the
--     target revision and the application is Healthy (a Failed or Error operation fails at once).
--   deploy = "webhook": POST webhook_url {"action": "rollback", "service", "app", "history_id",
--     "incident", "run", "approved_by"} (Bearer webhook_token when given); a 2xx is accepted.
-- Either way, health_url (when given; {service} put in) must answer 2xx within
-- health_timeout_s. A rollback is not undone when the verification fails: the run fails saying
-- where, and a person decides.
--
-- Level 3: started by a person (approved_by) or after approval.ask (`approvers`, denied on
-- timeout). Policy: per service, 30 minutes apart and at most 2 an hour (runaway guard).
-- Params: service (else the incident's), deploy, app (default: the service), app_namespace,
-- project, argocd_url, argocd_token (Bearer), history_id (-1 = the previous deployment), prune,
-- webhook_url, webhook_token, sync_timeout_s, poll_s, health_url, health_timeout_s, approvers.
local http = require("tocsin.http")
local json = require("tocsin.json")
local approval = require("tocsin.approval")
local steps = require("tocsin.steps")
local log = require("tocsin.log")

local urlencode = require("tocsin.url").encode

local function short(rev) return string.sub(tostring(rev or "?"), 1, 7) end

local function body_of(r) return r.json or json.decode(r.body or "") or {} end

-- The Argo CD deployment to roll back to, and the current one, from the application.
local function pick(app, name, want)
  local hist = app.status and app.status.history or {}
  local current = hist[#hist]
  if want >= 0 then
    local ids = {}
    for _, h in ipairs(hist) do
      if h.id == want then return h, current end
      ids[#ids + 1] = tostring(h.id)
    end
    error(string.format("application %s has no deployment with history id %d (ids: %s)", name, want,
      #ids > 0 and table.concat(ids, ", ") or "none"), 0)
  end
  if #hist < 2 then error("application " .. name .. " has no earlier deployment to roll back to", 0) end
  return hist[#hist - 1], current
end

return {
  name = "rollback-deploy",
  description = "Roll a service back to its previous deployment (Argo CD or a deploy webhook), then verify.",
  level = 3,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    deploy = { type = "string", default = "argocd", enum = { "argocd", "webhook" } },
    app = { type = "string", default = "", pattern = "[a-z0-9%.%-]*" },
    app_namespace = { type = "string", default = "", pattern = "[a-z0-9%-]*" },
    project = { type = "string", default = "", pattern = "[%w%._%-]*" },
    argocd_url = { type = "string", default = "https://argocd-server.argocd.svc" },
    argocd_token = { type = "string", default = "" },
    history_id = { type = "integer", default = -1, min = -1 },
    prune = { type = "boolean", default = false },
    webhook_url = { type = "string", default = "" },
    webhook_token = { type = "string", default = "" },
    sync_timeout_s = { type = "integer", default = 300, min = 10, max = 3600 },
    poll_s = { type = "integer", default = 10, min = 1, max = 300 },
    health_url = { type = "string", default = "" },
    health_timeout_s = { type = "integer", default = 120, min = 5, max = 1800 },
    approvers = { type = "table", default = {} },
  },
  policy = { cooldown_s = 1800, max_per_hour = 2, max_concurrent = 2, key = "service" },
  triggers = { { command = "rollback" } }, -- /tocsin rollback service=... in chat

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" then error("no service: give params.service or start it for an incident", 0) end
    local name = p.app ~= "" and p.app or svc
    local argo = p.deploy == "argocd"
    if not argo and p.webhook_url == "" then error("deploy = webhook needs webhook_url", 0) end

    local app_url = string.format("%s/api/v1/applications/%s", p.argocd_url, name)
    local query = p.app_namespace ~= "" and ("?appNamespace=" .. urlencode(p.app_namespace)) or ""
    local headers = { Accept = "application/json" }
    if argo and p.argocd_token ~= "" then headers.Authorization = "Bearer " .. p.argocd_token end

    -- What to roll back to, and the question to ask.
    local target, reason
    if argo then
      local r, err = http.get(app_url .. query, { headers = headers, timeout = 10 })
      if not r then error("Argo CD unreachable: " .. err, 0) end
      if r.dry_run then
        target = { id = math.max(p.history_id, 0), revision = "(dry run)" }
        reason = string.format("roll back Argo CD application %s to history id %d?", name, target.id)
      else
        if r.status ~= 200 then
          error(string.format("GET application %s: HTTP %d %s", name, r.status,
            string.sub(r.body or "", 1, 200)), 0)
        end
        local app = body_of(r)
        if app.spec and app.spec.syncPolicy and app.spec.syncPolicy.automated then
          error(string.format("application %s has auto-sync on (spec.syncPolicy.automated): Argo CD refuses "
            .. "a rollback then; turn it off first", name), 0)
        end
        local current
        target, current = pick(app, name, p.history_id)
        if current and target.id == current.id then
          error(string.format("application %s is already at history id %d (%s)", name, target.id,
            short(target.revision)), 0)
        end
        reason = string.format("roll back Argo CD application %s from %s (history %s) to %s (history %d, "
          .. "deployed %s)?", name, short(current and current.revision), current and current.id or "?",
          short(target.revision), target.id, target.deployedAt or "?")
      end
    else
      reason = string.format("roll back %s through the deploy webhook%s?", svc,
        p.history_id >= 0 and (" to history id " .. p.history_id) or "")
    end

    local by = ctx.approved_by
    if by == "" then
      local ok, who, note = approval.ask { reason = reason, who = #p.approvers > 0 and p.approvers or nil,
                                           timeout_s = 600, on_timeout = "deny" }
      if not ok then
        error(string.format("rollback of %s not approved (%s%s)", name, who,
          note ~= "" and (": " .. note) or ""), 0)
      end
      log.info("rollback of %s approved by %s", name, who)
      by = who
    end

    local last = "no answer yet"
    local ok, report = steps.run {
      { name = "rollback", run = function()
          local r, err
          if argo then
            local req = { name = name, id = target.id, prune = p.prune, dryRun = false }
            if p.app_namespace ~= "" then req.appNamespace = p.app_namespace end
            if p.project ~= "" then req.project = p.project end
            r, err = http.post(app_url .. "/rollback", { headers = headers, json = req, timeout = 15 })
            if not r then return nil, "Argo CD unreachable: " .. err end
          else
            local h = { Accept = "application/json" }
            if p.webhook_token ~= "" then h.Authorization = "Bearer " .. p.webhook_token end
            local inc = ctx.incident or {}
            r, err = http.post(p.webhook_url, { headers = h, timeout = 15, json = {
              action = "rollback", service = svc, app = name,
              history_id = p.history_id >= 0 and p.history_id or nil, incident = inc.id, run = ctx.run_id,
              approved_by = by } })
            if not r then return nil, "deploy webhook unreachable: " .. err end
          end
          if not r.dry_run and (r.status < 200 or r.status >= 300) then
            return nil, string.format("POST %s: HTTP %d %s", argo and "rollback" or "webhook", r.status,
              string.sub(r.body or "", 1, 200))
          end
          if argo then
            log.info("Argo CD rolling %s back to %s (history %d)", name, short(target.revision), target.id)
          else
            log.info("deploy webhook accepted the rollback of %s (HTTP %d)", svc, r.status)
          end
        end },
      { name = "sync", run = function()
          if not argo then return true end
          local v, err = steps.wait_for(function()
            local r = http.get(app_url .. query, { headers = headers, timeout = 10 })
            if r and r.dry_run then return true end
            if not r or r.status ~= 200 then
              last = r and ("HTTP " .. r.status) or "unreachable"
              return false
            end
            local st = body_of(r).status or {}
            local op = st.operationState or {}
            local health = st.health and st.health.status or "?"
            local rev = op.syncResult and op.syncResult.revision
            last = string.format("operation %s on %s, health %s", op.phase or "none", short(rev), health)
            if rev ~= target.revision then return false end -- still an earlier operation
            if op.phase == "Failed" or op.phase == "Error" then
              error(string.format("rollback operation %s: %s", op.phase, op.message or "no message"), 0)
            end
            return op.phase == "Succeeded" and health == "Healthy"
          end, { timeout_s = p.sync_timeout_s, every_s = p.poll_s,
                 what = "application " .. name .. " to be Healthy on " .. short(target.revision) })
          if not v then return nil, err .. " (" .. last .. ")" end
          log.info("application %s Healthy on %s", name, short(target.revision))
          return true
        end },
      { name = "health", run = function()
          if p.health_url == "" then return true end
          local hurl = string.gsub(p.health_url, "{(%a+)}", { service = svc })
          local v, err = steps.wait_for(function()
            local r, herr = http.get(hurl, { timeout = 5 })
            if r and (r.dry_run or (r.status >= 200 and r.status < 300)) then return true end
            last = r and ("HTTP " .. r.status) or herr
            return false
          end, { timeout_s = p.health_timeout_s, every_s = p.poll_s, what = hurl .. " to answer 2xx" })
          if not v then return nil, err .. " (" .. last .. ")" end
          log.info("%s healthy after the rollback", svc)
          return true
        end },
    }
    if not ok then
      error(string.format("rollback of %s failed at step %s: %s", name, report.failed, report.error), 0)
    end
  end,
}
