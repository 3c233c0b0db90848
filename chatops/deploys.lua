-- deploys [SERVICE] [HOURS]: "what changed?" - the recent deploys and config changes tocsin has
-- seen (change events posted to /api/v1/events: type deploy, config, feature_flag, ...), newest
-- first, for one service or all of them. The first question of most incidents.
local chatops = require("tocsin.chatops")
local changes = require("tocsin.changes")
local time = require("tocsin.time")

local function ago(ms)
  local s = math.max(0, (time.now() - ms) // 1000)
  if s < 120 then return string.format("%ds", s) end
  if s < 7200 then return string.format("%dm", s // 60) end
  return string.format("%dh", s // 3600)
end

return chatops.command {
  name = "deploys",
  help = "recent deploys and config changes, newest first (of one service, or all)",
  role = "viewer",
  args = {
    { name = "service" },
    { name = "hours", type = "integer", default = 24 },
  },
  run = function(_, args)
    if args.hours < 1 or args.hours > 24 * 30 then error("hours must be from 1 to 720", 0) end
    local since = time.now() - args.hours * 3600 * 1000 -- time.now() is in ms
    local list = changes.recent { service = args.service, since_ms = since }
    local where = args.service and (" of " .. args.service) or ""
    if #list == 0 then
      return string.format("No changes%s in the last %d h.", where, args.hours)
    end
    local out = { string.format("Changes%s in the last %d h:", where, args.hours) }
    for i, c in ipairs(list) do
      if i > 15 then
        out[#out + 1] = string.format("... and %d more", #list - 15)
        break
      end
      out[#out + 1] = string.format("%s ago  %s  *%s*%s  %s", ago(c.ts), c.type, c.service or "?",
        (c.version and c.version ~= "") and (" " .. c.version) or "", c.title or "")
    end
    return { text = table.concat(out, "\n"), in_channel = true }
  end,
}
