-- luacheck configuration for the scripts the engine loads (Lua 5.4, sandboxed).
std = "lua54"
max_line_length = 110
-- the sandbox removes these; using them is a bug
not_globals = { "dofile", "loadfile", "io", "debug", "package" }
