-- Tests of runbooks/cleanup-disk.lua (run by `tocsin test`).
local t = require("tocsin.testing")

local function df(avail_kb)
  return "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"
    .. string.format("/dev/sda1         51475068 40000000 %9d      98%% /\n", avail_kb)
end

return {
  ["asks, then deletes old files under the paths, vacuums the journal and reports what it freed"] = function()
    local r = t.runbook("cleanup-disk", {
      params = { paths = "/var/log/app,/tmp", older_than_days = 14 },
      exec = { { argv1 = "^df$", stdout = df(1024 * 1024), times = 1 },
               { argv1 = "^df$", stdout = df(1024 * 1024 + 800 * 1024) },
               { argv1 = "^find$" }, { argv1 = "^journalctl$" } },
    })
    t.eq(r.status, "ok", tostring(r.error))
    local ask = r:calls("approval")[1]
    t.match(ask.reason, "^on this host, delete files older than 14 days and run:\n")
    t.match(ask.reason, "find /var/log/app %-xdev %-type f %-mtime %+14 %-delete")
    local argv = {}
    for _, c in ipairs(r:calls("exec")) do argv[#argv + 1] = table.concat(c.argv, " ") end
    t.eq(argv, { "df -P -k /var/log/app",
                 "find /var/log/app -xdev -type f -mtime +14 -delete",
                 "find /tmp -xdev -type f -mtime +14 -delete",
                 "journalctl --vacuum-size=500M",
                 "df -P -k /var/log/app" })
    t.eq(r.logs[#r.logs].text, "cleaned /var/log/app, /tmp on this host: 800 MiB freed (1824 MiB free now)")
  end,

  ["over ssh to a host, without asking when approved_by is given"] = function()
    local r = t.runbook("cleanup-disk", {
      approved_by = "alice",
      params = { host = "db-1", paths = "/var/log", journal_max = "" },
      exec = { { argv1 = "^ssh$", stdout = df(5000) } },
    })
    t.eq(r.status, "ok", tostring(r.error))
    t.eq(#r:calls("approval"), 0)
    local c = r:calls("exec")
    t.eq(#c, 3, "df, find, df: no journal")
    t.eq({ table.unpack(c[2].argv, 1, 8) }, { "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                                              "db-1", "--", "find" })
  end,

  ["refuses paths outside the allowed prefixes, '..' and '/'; a denial deletes nothing"] = function()
    for _, bad in ipairs({ "/", "/etc", "/var/log/../../etc", "/var/logs", "relative/dir" }) do
      local r = t.runbook("cleanup-disk", { params = { paths = bad } })
      t.eq(r.status, "failed", bad)
      t.match(r.error, "^refusing to clean ", bad)
      t.eq(#r:calls("exec"), 0, bad)
    end
    local r = t.runbook("cleanup-disk", { approve = false, approver = "bob" })
    t.eq(r.status, "failed")
    t.eq(r.error, "not approved (bob): nothing deleted")
    t.eq(#r:calls("exec"), 0)
  end,

  ["a dry run shows the commands and deletes nothing; too little freed fails"] = function()
    local r = t.runbook("cleanup-disk", { dry_run = true })
    t.eq(r.status, "ok", tostring(r.error))
    t.eq(#r:calls("approval"), 0)
    t.match(r.logs[#r.logs].text, "^dry run on this host: would run find /var/log")
    r = t.runbook("cleanup-disk", { approved_by = "alice", params = { min_free_gain_mb = 100 },
      exec = { { argv1 = "^df$", stdout = df(1000), times = 1 }, { argv1 = "^df$", stdout = df(2024) },
               { argv1 = "." } } })
    t.eq(r.status, "failed")
    t.match(r.error, "1 MiB freed .*less than the 100 MiB hoped for")
    r = t.runbook("cleanup-disk", { approved_by = "alice", exec = { { argv1 = "^df$", stdout = df(1) },
      { argv1 = "^find$", status = 1, stderr = "find: '/tmp/x': Permission denied" } } })
    t.eq(r.status, "failed")
    t.match(r.error, "exit 1: find: '/tmp/x': Permission denied")
  end,
}
