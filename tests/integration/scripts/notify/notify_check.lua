-- test runbook for tocsin.notify (tests/integration/test_notify.sh): ctx.params.case picks what
-- to send; the outcome goes to ctx.params.report as JSON.
local http = require("tocsin.http")
local notify = require("tocsin.notify")

-- the secrets the test looks for in the logs and the audit stream
local SLACK_PATH = "/services/T00000000/B00000000/XXXXSECRETSLACKTOKEN"
local MM_PATH = "/hooks/xxxgeneratedkeysecretxxx"
local PD_KEY = "R0UTINGKEYSECRET0123456789abcdef"

local function outcome(r, err, r3)
  return { ok = r ~= nil, err = err, r = r or r3 }
end

local cases = {}

function cases.slack(p)
  return outcome(notify.slack(p.base .. SLACK_PATH, {
    text = "Disk 93% on db-1",
    blocks = {
      { type = "section", text = { type = "mrkdwn", text = "*Disk* 93% on `db-1`" } },
      { type = "divider" },
    },
    channel = "#ops", username = "tocsin", icon_emoji = ":rotating_light:",
  }))
end

function cases.mattermost(p)
  return outcome(notify.mattermost(p.base .. MM_PATH, {
    text = "#### Disk pressure\n@channel db-1 is at 93%",
    channel = "town-square", username = "tocsin",
    icon_url = "https://example.com/tocsin.png",
    attachments = {
      { fallback = "db-1 disk 93%", color = "#FF8000", title = "db-1",
        fields = { { short = true, title = "used", value = "93%" } } },
    },
  }))
end

-- the PagerDuty documentation's trigger example (shared/vectors/pagerduty/events_v2_trigger.json)
function cases.pd_trigger(p)
  return outcome(notify.pagerduty {
    url = p.base .. "/v2/enqueue",
    action = "trigger",
    routing_key = "samplekeyhere", dedup_key = "samplekeyhere",
    summary = "Example alert on host1.example.com",
    timestamp = "2015-07-17T08:42:58.315+0000",
    source = "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
    severity = "info", component = "postgres", group = "prod-datapipe", class = "deploy",
    custom_details = { ["ping time"] = "1500ms", ["load avg"] = 0.75 },
    images = { { src = "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                 href = "https://example.com/", alt = "Example text" } },
    links = { { href = "https://example.com/", text = "Link text" } },
    client = "Sample Monitoring Service", client_url = "https://monitoring.example.com",
  })
end

function cases.pd_trigger_nodedup(p)
  return outcome(notify.pagerduty {
    url = p.base .. "/v2/enqueue", action = "trigger", routing_key = PD_KEY,
    summary = "db-1 disk 93%", source = "db-1", severity = "critical", timestamp = 1437122578315,
  })
end

function cases.pd_ack(p)
  return outcome(notify.pagerduty {
    url = p.base .. "/v2/enqueue", action = "acknowledge",
    routing_key = "routingkeyhere", dedup_key = "dedupkeyhere",
  })
end

function cases.pd_resolve(p)
  return outcome(notify.pagerduty {
    url = p.base .. "/v2/enqueue", action = "resolve",
    routing_key = "routingkeyhere", dedup_key = "dedupkeyhere",
  })
end

-- bad input raises, naming the field
function cases.validation(p)
  local u = p.base .. "/never"
  local function msg(f, ...)
    local args = table.pack(...)
    -- called from a Lua function (not straight from pcall), so errors carry file:line
    local ok, e = pcall(function()
      local r = f(table.unpack(args, 1, args.n))
      return r
    end)
    return ok and "accepted" or e
  end
  local trig = function(t)
    t.url = u
    t.action = t.action or "trigger"
    t.routing_key = t.routing_key or PD_KEY
    return msg(notify.pagerduty, t)
  end
  return { ok = true, r = {
    pd_no_action = msg(notify.pagerduty, { url = u, routing_key = PD_KEY }),
    pd_bad_action = trig { action = "escalate", dedup_key = "d" },
    pd_no_key = msg(notify.pagerduty, { url = u, action = "resolve", dedup_key = "d" }),
    pd_no_summary = trig { source = "s", severity = "info" },
    pd_no_source = trig { summary = "s", severity = "info" },
    pd_bad_severity = trig { summary = "s", source = "s", severity = "fatal" },
    pd_long_summary = trig { summary = string.rep("x", 1025), source = "s", severity = "info" },
    pd_long_dedup = trig { summary = "s", source = "s", severity = "info",
                           dedup_key = string.rep("d", 256) },
    pd_ack_no_dedup = trig { action = "acknowledge" },
    pd_resolve_payload = trig { action = "resolve", dedup_key = "d", summary = "s" },
    pd_typo = trig { summary = "s", source = "s", severity = "info", sumary = "t" },
    pd_image_http = trig { summary = "s", source = "s", severity = "info",
                           images = { { src = "http://example.com/x.png" } } },
    pd_link_no_href = trig { summary = "s", source = "s", severity = "info",
                             links = { { text = "t" } } },
    pd_details_type = trig { summary = "s", source = "s", severity = "info",
                             custom_details = "text" },
    slack_no_text = msg(notify.slack, u, { channel = "#ops" }),
    slack_bad_url = msg(notify.slack, "ftp://example.com/x", { text = "t" }),
    slack_option_in_message = msg(notify.slack, u, { text = "t", retries = 5 }),
    slack_bad_retries = msg(notify.slack, u, { text = "t" }, { retries = 99 }),
    slack_blocks_type = msg(notify.slack, u, { text = "t", blocks = "not a list" }),
    mm_no_text = msg(notify.mattermost, u, { channel = "x" }),
    webhook_bad_body = msg(notify.webhook, u, 42),
    webhook_bad_header = msg(notify.webhook, u, "x", { headers = { ["X-A"] = "a\r\nX-B: b" } }),
    webhook_bad_method = msg(notify.webhook, u, "x", { method = "get" }),
    webhook_unknown_opt = msg(notify.webhook, u, "x", { retry = 1 }),
    webhook_function = msg(notify.webhook, u, { f = print }),
  } }
end

-- retried: answers 500, 500, then 200 (default retries and backoff)
function cases.flaky(p)
  return outcome(notify.webhook(p.base .. "/flaky", { event = "deploy", service = "payments" },
    { headers = { ["X-Tocsin-Test"] = "flaky" } }))
end

function cases.bad(p)
  return outcome(notify.slack(p.base .. "/bad", { text = "t" }))
end

function cases.down(p)
  return outcome(notify.webhook(p.base .. "/down", { n = 1 }, { retries = 2, backoff = 0.05 }))
end

function cases.refused(p)
  return outcome(notify.webhook(p.dead, { n = 1 }, { retries = 2, backoff = 0.05 }))
end

function cases.ratelimit(p)
  return outcome(notify.webhook(p.base .. "/ratelimit", { n = 1 }, { backoff = 0.05 }))
end

function cases.unavailable_retry_after(p)
  return outcome(notify.slack(p.base .. "/busy", { text = "t" }, { backoff = 0.05 }))
end

function cases.ratelimit_long(p)
  return outcome(notify.webhook(p.base .. "/ratelimit_long", { n = 1 },
    { backoff = 0.05, max_backoff = 5 }))
end

-- waits about 2 s and 4 s between its attempts
function cases.slowflaky(p)
  return outcome(notify.webhook(p.base .. "/slowflaky", { n = 1 }, { backoff = 2 }))
end

function cases.string_body(p)
  return outcome(notify.webhook(p.base .. "/put", "plain text body",
    { method = "PUT", headers = { Authorization = "Bearer WEBHOOKSECRET" } }))
end

-- still backing off when the engine stops
function cases.hang(p)
  return outcome(notify.webhook(p.base .. "/down", { n = 1 }, { retries = 5, backoff = 30 }))
end

return {
  name = "notify_check",
  description = "calls tocsin.notify as ctx.params.case says and reports what came back",
  level = 1,
  params = { case = "", base = "", report = "", dead = "" },
  run = function(ctx)
    local p = ctx.params
    local out = assert(cases[p.case], "no such case")(p)
    out.case = p.case
    assert(http.post(p.report, { json = out }))
  end,
}
