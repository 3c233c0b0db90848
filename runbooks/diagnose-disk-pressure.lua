-- diagnose-disk-pressure (level 2, diagnose): ask Prometheus (HTTP API, GET /api/v1/query) about
-- the filesystems of the incident's service or of one instance, from node_exporter's series:
-- space used (node_filesystem_avail_bytes / node_filesystem_size_bytes), inodes used
-- (node_filesystem_files_free / node_filesystem_files) and how fast free space is shrinking
-- (deriv of node_filesystem_avail_bytes over `window`), and post one summary to chat: the
-- fullest filesystems first, what is past its threshold, and the fastest-filling one with the
-- time it has left at that rate. Read-only.
--
-- Which series: `selector` (PromQL label matchers, {service} and {instance} put in); by default
-- instance=~"<instance>(:port)?" when `instance` is given, else service="<service>" (a label
-- your relabeling puts on node_exporter's targets). `fs_filter` leaves out pseudo filesystems.
-- Params: service (else the incident's), instance, selector, fs_filter, prom_url, window,
-- space_max, inode_max, top (lines in the message), slack_url or webhook (default the
-- notify.webhook_url setting). No series: the summary says so.
local notify = require("tocsin.notify")
local config = require("tocsin.config")
local log = require("tocsin.log")

local prom = require("tocsin.prom")

local GIB = 1024 * 1024 * 1024

-- The series of an instant query ({} in a dry run).
local function vector(base, q) return prom.query(base, q) or {} end

local function fs_key(m) return (m.instance or "?") .. " " .. (m.mountpoint or "?") end

local function pct(v) return string.format("%.1f%%", v * 100) end

local function hours(h)
  if h < 1 then return string.format("%d min", math.floor(h * 60 + 0.5)) end
  if h < 48 then return string.format("%.1f h", h) end
  return string.format("%.1f days", h / 24)
end

return {
  name = "diagnose-disk-pressure",
  description = "Summarise space, inode use and the fastest growth of a service's filesystems.",
  level = 2,
  params = {
    service = { type = "string", default = "", pattern = "[%w%._%-]*" },
    instance = { type = "string", default = "", pattern = "[%w%._%-:]*" },
    selector = { type = "string", default = "" },
    fs_filter = { type = "string", default = 'fstype!~"tmpfs|overlay|squashfs",mountpoint!~"/boot.*"' },
    prom_url = { type = "string", default = "http://prometheus:9090" },
    window = { type = "string", default = "1h", pattern = "%d+[smhd]" },
    space_max = { type = "number", default = 0.9, min = 0, max = 1 },
    inode_max = { type = "number", default = 0.9, min = 0, max = 1 },
    top = { type = "integer", default = 5, min = 1, max = 50 },
    slack_url = { type = "string", default = "" },
    webhook = { type = "string", default = "" },
  },
  policy = { cooldown_s = 120, key = "service" },

  run = function(ctx)
    local p = ctx.params
    local svc = p.service
    if svc == "" and ctx.incident then svc = ctx.incident.service or "" end
    if svc == "" and p.instance == "" then
      error("no service or instance: give params.service, params.instance or start it for an incident", 0)
    end
    local sel = p.selector
    if sel == "" then
      if p.instance ~= "" then
        sel = 'instance=~"' .. string.gsub(p.instance, "%.", "[.]") .. '(:[0-9]+)?"'
      else
        sel = 'service="{service}"'
      end
    end
    sel = string.gsub(sel, "{(%a+)}", { service = svc, instance = p.instance })
    if p.fs_filter ~= "" then sel = sel .. "," .. p.fs_filter end
    local what = p.instance ~= "" and p.instance or svc

    local avail = vector(p.prom_url, "node_filesystem_avail_bytes{" .. sel .. "}")
    local size = vector(p.prom_url, "node_filesystem_size_bytes{" .. sel .. "}")
    local inodes = vector(p.prom_url, string.format("1 - node_filesystem_files_free{%s} / "
      .. "node_filesystem_files{%s}", sel, sel))
    local growth = vector(p.prom_url, string.format("deriv(node_filesystem_avail_bytes{%s}[%s])",
      sel, p.window))

    local by, list = {}, {}
    for _, s in ipairs(avail) do
      local m = s.metric or {}
      local f = { instance = m.instance or "?", mountpoint = m.mountpoint or "?",
                  device = m.device, avail_bytes = tonumber(s.value[2]) or 0 }
      by[fs_key(m)] = f
      list[#list + 1] = f
    end
    local function each(series, field)
      for _, s in ipairs(series) do
        local f = by[fs_key(s.metric or {})]
        local v = tonumber(s.value[2])
        if f and v and v == v then f[field] = v end
      end
    end
    each(size, "size_bytes")
    each(inodes, "inode_used")
    each(growth, "deriv")
    local flags, fastest = {}, nil
    for _, f in ipairs(list) do
      if f.size_bytes and f.size_bytes > 0 then f.space_used = 1 - f.avail_bytes / f.size_bytes end
      if f.deriv and f.deriv < 0 then
        f.growth_bytes_h = -f.deriv * 3600
        f.full_in_h = f.avail_bytes / f.growth_bytes_h
        if not fastest or f.growth_bytes_h > fastest.growth_bytes_h then fastest = f end
      end
      f.deriv = nil
    end
    table.sort(list, function(a, b)
      local ua = math.max(a.space_used or 0, a.inode_used or 0)
      local ub = math.max(b.space_used or 0, b.inode_used or 0)
      if ua ~= ub then return ua > ub end
      return fs_key(a) < fs_key(b)
    end)

    local text
    if #list == 0 then
      text = string.format("Disk pressure for %s: no filesystem series match {%s}", what, sel)
    else
      local lines = {}
      for i, f in ipairs(list) do
        local space = "size unknown"
        if f.space_used then
          space = string.format("%s used (%.1f of %.1f GiB free)", pct(f.space_used), f.avail_bytes / GIB,
            f.size_bytes / GIB)
          if f.space_used > p.space_max then
            space = space .. " (above " .. pct(p.space_max) .. ")"
            flags[#flags + 1] = fs_key(f) .. " space"
          end
        end
        local ino = "no data"
        if f.inode_used then
          ino = pct(f.inode_used)
          if f.inode_used > p.inode_max then
            ino = ino .. " (above " .. pct(p.inode_max) .. ")"
            flags[#flags + 1] = fs_key(f) .. " inodes"
          end
        end
        if i <= p.top then
          lines[#lines + 1] = string.format("• %s %s: %s, inodes %s", f.instance, f.mountpoint, space, ino)
        end
      end
      if #list > p.top then lines[#lines + 1] = string.format("… and %d more", #list - p.top) end
      local grow = "Fastest growth: none, no filesystem is filling over " .. p.window
      if fastest then
        grow = string.format("Fastest growth: %s %s, %.2f GiB/h over %s (full in %s at that rate)",
          fastest.instance, fastest.mountpoint, fastest.growth_bytes_h / GIB, p.window,
          hours(fastest.full_in_h))
      end
      text = string.format("Disk pressure for %s (%d filesystem(s)):\n%s\n%s. %s", what, #list,
        table.concat(lines, "\n"), grow, #flags > 0 and ("Past threshold: " .. table.concat(flags, ", "))
        or "All within thresholds")
    end
    log.info("%s", text)

    local inc = ctx.incident or {}
    local r, err
    if p.slack_url ~= "" then
      r, err = notify.slack(p.slack_url, { text = text })
    else
      local url = p.webhook ~= "" and p.webhook or config.get("notify.webhook_url")
      if url == "" then
        log.warn("no chat configured (slack_url, webhook, notify.webhook_url): summary only logged")
        return
      end
      r, err = notify.webhook(url, { text = text, incident = inc.id, service = svc, instance = p.instance,
                                     filesystems = list, fastest = fastest, past_threshold = flags,
                                     run = ctx.run_id })
    end
    if not r then error("disk pressure summary for " .. what .. " not delivered: " .. err, 0) end
  end,
}
