-- test runbook: vandalizes its own globals and module tables
return {
  name = "tamper", level = 1,
  run = function()
    string.format = nil
    require("tocsin.json").encode = nil
    _G.print = nil
    setmetatable(_G, { __index = function() error("poisoned") end })
  end,
}
