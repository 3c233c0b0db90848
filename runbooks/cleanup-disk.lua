-- cleanup-disk (level 3, remediate): free space on a full disk the safe way, after a person
-- approves: delete files older than `older_than_days` under the given directories (each must be
-- under one of the `allowed` prefixes: logs, caches and temporary files by default; never "/"
-- itself, never "..") and vacuum the systemd journal down to `journal_max`. It measures the
-- filesystem's free space (df -P) before and after, and reports what it freed. Deleting cannot
-- be undone, so it always asks unless started with approved_by; a dry run shows the commands
-- and deletes nothing. Runs locally, or on `host` over ssh (BatchMode: keys only).
--
-- scripts.exec_allow must list the programs it runs: find, journalctl, df (and ssh for a host).
-- Params: host, paths (comma-separated), older_than_days, journal_max (e.g. "500M"; "" skips
-- the journal), mount (the filesystem to measure, default the first path), allowed
-- (comma-separated prefixes), min_free_gain_mb (below it the run reports it freed too little).
local exec = require("tocsin.exec")
local approval = require("tocsin.approval")
local log = require("tocsin.log")

local function split(s)
  local out = {}
  for x in string.gmatch(s, "[^,%s]+") do out[#out + 1] = x end
  return out
end

-- A directory that is safe to clean: absolute, no "..", strictly under an allowed prefix.
local function safe(path, allowed)
  if not string.match(path, "^/[%w%._%-/]*$") or string.find(path, "..", 1, true) then return false end
  for _, pre in ipairs(allowed) do
    pre = string.gsub(pre, "/$", "")
    if path == pre or string.sub(path, 1, #pre + 1) == pre .. "/" then return true end
  end
  return false
end

local function run(host, argv)
  local full = argv
  if host ~= "" then
    full = { "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", host, "--" }
    for _, a in ipairs(argv) do full[#full + 1] = a end
  end
  local r, err = exec.run { argv = full, timeout = 300 }
  if not r then return nil, table.concat(argv, " ") .. ": " .. err end
  if r.dry_run then return r end
  if r.status ~= 0 then
    return nil, string.format("%s: exit %d: %s", table.concat(argv, " "), r.status,
      string.sub(r.stderr or "", 1, 200))
  end
  return r
end

-- Free bytes of the filesystem holding path (df -P: 1024-byte blocks), or nil in a dry run.
local function free_bytes(host, path)
  local r = assert(run(host, { "df", "-P", "-k", path }))
  if r.dry_run then return nil end
  local avail = string.match(r.stdout or "", "\n%S+%s+%d+%s+%d+%s+(%d+)")
  if not avail then error("cannot read df's output for " .. path, 0) end
  return tonumber(avail) * 1024
end

return {
  name = "cleanup-disk",
  description = "Delete old logs, caches and temporary files and vacuum the journal to free a full disk.",
  level = 3,
  params = {
    host = { type = "string", default = "", pattern = "[%w%._%-@]*" },
    paths = { type = "string", default = "/var/log,/tmp" },
    older_than_days = { type = "integer", default = 7, min = 1, max = 3650 },
    journal_max = { type = "string", default = "500M", pattern = "%d*[KMG]?" },
    mount = { type = "string", default = "" },
    allowed = { type = "string", default = "/var/log,/var/cache,/var/tmp,/tmp" },
    min_free_gain_mb = { type = "integer", default = 0, min = 0 },
  },
  policy = { cooldown_s = 1800, max_per_hour = 2, key = "host" },

  run = function(ctx)
    local p = ctx.params
    local allowed, paths = split(p.allowed), split(p.paths)
    if #paths == 0 then error("no paths to clean (params.paths)", 0) end
    for _, d in ipairs(paths) do
      if not safe(d, allowed) then
        error(string.format("refusing to clean %s: not under %s", d, table.concat(allowed, ", ")), 0)
      end
    end
    local where = p.host ~= "" and p.host or "this host"
    local mount = p.mount ~= "" and p.mount or paths[1]
    local plan = {}
    for _, d in ipairs(paths) do
      plan[#plan + 1] = { "find", d, "-xdev", "-type", "f", "-mtime", "+" .. p.older_than_days,
                          "-delete" }
    end
    if p.journal_max ~= "" then plan[#plan + 1] = { "journalctl", "--vacuum-size=" .. p.journal_max } end
    local lines = {}
    for _, argv in ipairs(plan) do lines[#lines + 1] = table.concat(argv, " ") end
    if ctx.approved_by == "" and not ctx.dry_run then
      local reason = string.format("on %s, delete files older than %d days and run:\n%s", where,
                                   p.older_than_days, table.concat(lines, "\n"))
      local ok, by = approval.ask { reason = reason, timeout_s = 900 }
      if not ok then error("not approved (" .. by .. "): nothing deleted", 0) end
    end
    local before = free_bytes(p.host, mount)
    for _, argv in ipairs(plan) do assert(run(p.host, argv)) end
    local after = free_bytes(p.host, mount)
    if not before then
      log.info("dry run on %s: would run %s", where, table.concat(lines, "; "))
      return "dry run: " .. table.concat(lines, "; ")
    end
    local gained = (after - before) / (1024 * 1024)
    local text = string.format("cleaned %s on %s: %.0f MiB freed (%.0f MiB free now)",
      table.concat(paths, ", "), where, gained, after / (1024 * 1024))
    log.info("%s", text)
    if gained < p.min_free_gain_mb then
      error(string.format("%s, less than the %d MiB hoped for: look for what else fills %s", text,
        p.min_free_gain_mb, mount), 0)
    end
    return text
  end,
}
