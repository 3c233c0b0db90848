-- test runbook: tries one way out of the sandbox, named by params.how; must fail
local attempts = {
  os_execute = function() return os.execute("id") end,
  io_popen = function() return io.popen("id") end,
  io_open = function() return io.open("/etc/passwd") end,
  loadfile = function() return loadfile("/etc/passwd") end,
  dofile = function() return dofile("/etc/passwd") end,
  binary_chunk = function() return assert(load("\27Lua\84\0\25\147\13\10\26\10", "x", "b")) end,
  binary_default_mode = function() return assert(load("\27LuaT\0")) end,
  string_dump = function() return string.dump(print) end,
  debug = function() return debug.getinfo(1) end,
  package_loadlib = function() return package.loadlib("/lib/x86_64-linux-gnu/libc.so.6", "system") end,
  require_c = function() return require("socket.core") end,
  require_path = function() return require("../../etc/passwd") end,
  coroutine_yield = function() return coroutine.yield() end,
  gc_stop = function() return collectgarbage("stop") end,
  runaway = function() while true do end end,
  string_bomb = function() local s = string.rep("x", 1 << 30) return #s end,
  table_bomb = function() local t = {} for i = 1, 1e9 do t[i] = i end end,
  concat_bomb = function() local s = "x" for _ = 1, 64 do s = s .. s end return #s end,
  metatable_string = function()
    getmetatable("").__index = function() error("hijacked") end
    return ("x"):upper() -- still this state's own string metatable: no effect elsewhere
  end,
}
return {
  name = "escape", level = 2, params = { how = "" },
  run = function(ctx)
    local f = attempts[ctx.params.how]
    assert(f, "unknown attempt")
    f()
    error("ESCAPED: " .. ctx.params.how .. " did not fail")
  end,
}
