-- test runbook: sleeps, then reports its index to the receiver
local http = require("tocsin.http")
local time = require("tocsin.time")
return {
  name = "concurrent", level = 2, params = { i = 0, delay = 0.1, url = "" },
  run = function(ctx)
    time.sleep(ctx.params.delay)
    local r, err = http.post(ctx.params.url, { json = { i = ctx.params.i } })
    assert(r, err)
  end,
}
