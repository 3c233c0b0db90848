-- top [N]: the open incidents that matter most first (severity, then how many services and
-- alerts they span), each with its most probable cause - a one-glance triage list.
local chatops = require("tocsin.chatops")

local rank = { critical = 3, warning = 2, info = 1 }

return chatops.command {
  name = "top",
  help = "the worst open incidents first, with their most probable cause",
  role = "viewer",
  args = { { name = "n", type = "integer", default = 5 } },
  run = function(_, args)
    if args.n < 1 or args.n > 20 then error("n must be from 1 to 20", 0) end
    local list = chatops.incidents()
    if #list == 0 then return "No open incidents." end
    table.sort(list, function(a, b)
      local ra, rb = rank[a.severity] or 0, rank[b.severity] or 0
      if ra ~= rb then return ra > rb end
      local sa, sb = #(a.services or {}), #(b.services or {})
      if sa ~= sb then return sa > sb end
      if a.alerts ~= b.alerts then return a.alerts > b.alerts end
      return a.opened_ms < b.opened_ms
    end)
    local out = {}
    for i = 1, math.min(args.n, #list) do
      local inc = list[i]
      local cause = inc.rca and inc.rca[1]
      out[#out + 1] = string.format("%d. `%s` *%s* %s (%d alerts, %d services)%s", i, inc.id,
        inc.severity, inc.title, inc.alerts, #(inc.services or {}),
        cause and string.format(" - likely %s (%.2f)", cause.service, cause.score) or "")
    end
    return table.concat(out, "\n")
  end,
}
