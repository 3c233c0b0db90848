-- test runbook: uses what tamper vandalized in its own state; must be unaffected
local http = require("tocsin.http")
local json = require("tocsin.json")
return {
  name = "victim", level = 1, params = { url = "" },
  run = function(ctx)
    local r, err = http.post(ctx.params.url, { body = json.encode({ ok = string.format("%d", 42) }) })
    assert(r, err)
  end,
}
