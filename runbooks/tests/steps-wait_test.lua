-- Tests of tocsin.steps.wait_for through a tiny runbook of the test's own (steps-wait.lua here).
local t = require("tocsin.testing")

return {
  ["wait_for polls until the condition holds, on the fake clock"] = function()
    local r = t.runbook(require("tocsin.testfs").dirs().test_dir .. "/steps-wait.lua", {
      http = { { url = "/ready", status = 503, times = 2 }, { url = "/ready", status = 200 } },
    })
    t.eq(r.status, "ok", "status")
    t.eq(#r:calls("http"), 3, "three polls")
    t.eq(#r:calls("sleep"), 2, "two waits")
    t.eq(r:calls("sleep")[1].seconds, 2)
  end,

  ["wait_for gives up at its timeout with the reason"] = function()
    local r = t.runbook(require("tocsin.testfs").dirs().test_dir .. "/steps-wait.lua", {
      http = { { url = "/ready", status = 503 } },
    })
    t.eq(r.status, "failed")
    t.match(r.error, "timed out waiting for the service to be ready after 5 s")
    t.eq(#r:calls("http"), 4, "polls at 0, 2, 4 and 5 s")
  end,
}
