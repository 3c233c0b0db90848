-- Tests of runbooks/diagnose-disk-pressure.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function unescape(s)
  return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local GIB = 1024 * 1024 * 1024

-- An instant-query vector of node_exporter filesystem series: { instance, mountpoint, value }.
local function vector(name, series)
  local result = {}
  for _, s in ipairs(series) do
    local m = { device = "/dev/nvme0n1p1", fstype = "ext4", instance = s[1], job = "node",
                mountpoint = s[2], service = "payments" }
    if name then m.__name__ = name end
    result[#result + 1] = { metric = m, value = { 1764000000, tostring(s[3]) } }
  end
  return { status = "success", data = { resultType = "vector", result = result } }
end

-- Prometheus answers told apart by the (URL-encoded) query they are for.
local function prom(avail, size, inodes, growth)
  return {
    { url = "query=node_filesystem_avail_bytes", json = vector("node_filesystem_avail_bytes", avail) },
    { url = "query=node_filesystem_size_bytes", json = vector("node_filesystem_size_bytes", size) },
    { url = "query=1%%20%-%%20node_filesystem_files_free", json = vector(nil, inodes) },
    { url = "query=deriv%%28", json = vector(nil, growth) },
  }
end

local DB, WEB = "db-1:9100", "web-3:9100"

return {
  ["queries space, inodes and growth of the incident's service, fullest first, flags past thresholds"] =
  function()
    local r = t.runbook("diagnose-disk-pressure", {
      incident = t.fixture("incident-payments.json"),
      params = { slack_url = "https://hooks.slack.com/services/T/B/x" },
      http = prom({ { DB, "/var/lib/postgresql", 7 * GIB }, { DB, "/", 30 * GIB }, { WEB, "/", 2 * GIB } },
                  { { DB, "/var/lib/postgresql", 100 * GIB }, { DB, "/", 50 * GIB }, { WEB, "/", 20 * GIB } },
                  { { DB, "/var/lib/postgresql", 0.12 }, { DB, "/", 0.05 }, { WEB, "/", 0.97 } },
                  { { DB, "/var/lib/postgresql", -2.5 * GIB / 3600 }, { DB, "/", 1000 },
                    { WEB, "/", -0.1 * GIB / 3600 } }),
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    local q = r:calls("http")
    t.eq(#q, 4, "four queries")
    local sel = 'service="payments",fstype!~"tmpfs|overlay|squashfs",mountpoint!~"/boot.*"'
    local want = { "node_filesystem_avail_bytes{" .. sel .. "}", "node_filesystem_size_bytes{" .. sel .. "}",
                   "1 - node_filesystem_files_free{" .. sel .. "} / node_filesystem_files{" .. sel .. "}",
                   "deriv(node_filesystem_avail_bytes{" .. sel .. "}[1h])" }
    for i, c in ipairs(q) do
      t.eq(c.method, "GET")
      t.match(c.url, "^http://prometheus:9090/api/v1/query%?query=")
      t.eq(unescape(string.match(c.url, "query=(.*)")), want[i], "query " .. i)
    end
    local n = r:calls("notify")
    t.eq(#n, 1)
    t.eq(n[1].target, "slack")
    t.eq(n[1].message.text, "Disk pressure for payments (3 filesystem(s)):\n"
         .. "• web-3:9100 /: 90.0% used (2.0 of 20.0 GiB free), inodes 97.0% (above 90.0%)\n"
         .. "• db-1:9100 /var/lib/postgresql: 93.0% used (7.0 of 100.0 GiB free) (above 90.0%), "
         .. "inodes 12.0%\n"
         .. "• db-1:9100 /: 40.0% used (30.0 of 50.0 GiB free), inodes 5.0%\n"
         .. "Fastest growth: db-1:9100 /var/lib/postgresql, 2.50 GiB/h over 1h (full in 2.8 h at that rate). "
         .. "Past threshold: web-3:9100 / inodes, db-1:9100 /var/lib/postgresql space")
  end,

  ["an instance selects its series by instance; top bounds the lines; the webhook gets the figures"] =
  function()
    local r = t.runbook("diagnose-disk-pressure", {
      params = { instance = "db-1.prod", window = "30m", top = 1, webhook = "http://chat/h" },
      http = prom({ { "db-1.prod:9100", "/", 40 * GIB }, { "db-1.prod:9100", "/data", 60 * GIB } },
                  { { "db-1.prod:9100", "/", 50 * GIB }, { "db-1.prod:9100", "/data", 100 * GIB } },
                  { { "db-1.prod:9100", "/", 0.5 } }, {}),
    })
    t.eq(r.status, "ok", "status " .. tostring(r.error))
    t.eq(unescape(string.match(r:calls("http")[4].url, "query=(.*)")),
         'deriv(node_filesystem_avail_bytes{instance=~"db-1[.]prod(:[0-9]+)?",'
         .. 'fstype!~"tmpfs|overlay|squashfs",'
         .. 'mountpoint!~"/boot.*"}[30m])')
    local msg = r:calls("notify")[1].message
    t.eq(msg.text, "Disk pressure for db-1.prod (2 filesystem(s)):\n"
         .. "• db-1.prod:9100 /: 20.0% used (40.0 of 50.0 GiB free), inodes 50.0%\n"
         .. "… and 1 more\n"
         .. "Fastest growth: none, no filesystem is filling over 30m. All within thresholds")
    t.eq(msg.instance, "db-1.prod")
    t.eq(#msg.filesystems, 2)
    t.eq(msg.filesystems[2].mountpoint, "/data")
    t.eq(msg.filesystems[2].inode_used, nil, "no inode series: no figure")
    t.eq(msg.filesystems[2].space_used, 0.4)
  end,

  ["no series is said so; a Prometheus error or an undelivered summary fails the run"] = function()
    local r = t.runbook("diagnose-disk-pressure", {
      params = { service = "checkout", selector = 'job="node",team="{service}"', fs_filter = "",
                 webhook = "http://chat/h" },
      http = prom({}, {}, {}, {}),
    })
    t.eq(r.status, "ok")
    t.eq(unescape(string.match(r:calls("http")[1].url, "query=(.*)")),
         'node_filesystem_avail_bytes{job="node",team="checkout"}')
    t.eq(r:calls("notify")[1].message.text,
         'Disk pressure for checkout: no filesystem series match {job="node",team="checkout"}')
    r = t.runbook("diagnose-disk-pressure", {
      params = { service = "api" },
      http = { { url = "prometheus", status = 422, json = { status = "error", errorType = "execution",
                 error = "query timed out in expression evaluation" } } },
    })
    t.eq(r.status, "failed")
    t.eq(r.error, "prometheus query failed (HTTP 422): query timed out in expression evaluation")
    t.eq(#r:calls("http"), 1, "stops at the first failing query")
    r = t.runbook("diagnose-disk-pressure", {
      params = { service = "api", webhook = "http://chat/h" }, http = prom({}, {}, {}, {}),
      notify = { { kind = "webhook", error = "rejected: 404 no_such_hook" } },
    })
    t.eq(r.error, "disk pressure summary for api not delivered: rejected: 404 no_such_hook")
  end,

  ["without service or instance it refuses; bad thresholds are refused; a dry run only records"] = function()
    local r = t.runbook("diagnose-disk-pressure", {})
    t.eq(r.status, "failed")
    t.eq(r.error, "no service or instance: give params.service, params.instance or start it for an incident")
    t.eq(#r:calls("http"), 0)
    t.eq(t.runbook("diagnose-disk-pressure", { params = { service = "a", space_max = 1.5 } }).status,
         "bad_params")
    t.eq(t.runbook("diagnose-disk-pressure", { params = { service = "a", window = "an hour" } }).status,
         "bad_params")
    r = t.runbook("diagnose-disk-pressure", { params = { service = "api", webhook = "http://c/h" },
                                              dry_run = true })
    t.eq(r.status, "ok")
    t.eq(#r:calls("http"), 4, "recorded, not performed")
    t.eq(#r:calls("notify"), 1)
  end,
}
