-- Tests of runbooks/notify-oncall.lua (run by `tocsin test`, inside make test).
local t = require("tocsin.testing")

local function run(opts)
  opts.incident = opts.incident or t.fixture("incident-payments.json")
  opts.config = opts.config or { ["notify.webhook_url"] = "http://chat.example/hook" }
  return t.runbook("notify-oncall", opts)
end

return {
  ["posts the rule's summary with the incident to the configured webhook"] = function()
    local r = run { params = { summary = "payments fails 38% of its calls" } }
    t.eq(r.status, "ok", "status")
    local posts = r:calls("http")
    t.eq(#posts, 1, "one request")
    t.eq(posts[1].method, "POST")
    t.eq(posts[1].url, "http://chat.example/hook")
    t.eq(posts[1].json.text, "[critical] INC-1764000000000-1: payments fails 38% of its calls")
    t.eq(posts[1].json.incident, "INC-1764000000000-1")
    t.eq(posts[1].json.service, "payments")
    t.match(r.logs[#r.logs].text, "on%-call notified about INC%-1764000000000%-1")
  end,

  ["without a summary it says what was expected and what was seen"] = function()
    local r = run { params = { metric = "http_latency_ms", value = 900, expected = 83 } }
    t.eq(r.status, "ok")
    t.eq(r:calls("http")[1].json.text,
         "[critical] INC-1764000000000-1: http_latency_ms = 900, expected about 83")
  end,

  ["a webhook given as a parameter wins over the setting"] = function()
    local r = run { params = { webhook = "http://other.example/x", summary = "s" } }
    t.eq(r:calls("http")[1].url, "http://other.example/x")
  end,

  ["with no webhook anywhere it sends nothing and says so"] = function()
    local r = run { config = { ["notify.webhook_url"] = "" }, params = { summary = "s" } }
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 0)
    t.match(r.logs[1].text, "no webhook configured")
  end,

  ["an error answer fails the run, naming the status"] = function()
    local r = run { params = { summary = "s" }, http = { { url = "chat", status = 503 } } }
    t.eq(r.status, "failed")
    t.match(r.error, "webhook answered HTTP 503")
  end,

  ["an unreachable webhook fails the run with the reason"] = function()
    local r = run { params = { summary = "s" }, http = { { url = "chat", error = "timeout" } } }
    t.eq(r.status, "failed")
    t.match(r.error, "webhook not delivered: timeout")
  end,

  ["a dry run records the request and sends nothing"] = function()
    local r = run { params = { summary = "s" }, dry_run = true }
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 1)
  end,

  ["it is level 1: it may always run without a human"] = function()
    t.eq(run({ params = { summary = "s" } }).book.level, 1)
  end,
}
