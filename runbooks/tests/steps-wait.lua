-- A runbook used only by steps-wait_test.lua (runbooks/tests/ is not loaded by the engine).
local http = require("tocsin.http")
local steps = require("tocsin.steps")
return {
  name = "steps-wait", level = 1,
  run = function()
    assert(steps.wait_for(function()
      local r = http.get("http://svc.example/ready")
      return r and r.status == 200
    end, { timeout_s = 5, every_s = 2, what = "the service to be ready" }))
  end,
}
