-- tocsin.testing: runbook tests for `tocsin test` (docs/runbooks.md, "Testing").
--
-- A test file (runbooks/tests/<name>_test.lua) returns a table of named test functions:
--
--   local t = require("tocsin.testing")
--   return {
--     ["posts the incident to the webhook"] = function()
--       local run = t.runbook("notify-oncall", {
--         params = { summary = "payments is down" },
--         incident = t.fixture("incident.json"),          -- JSON next to the test file
--         config = { ["notify.webhook_url"] = "http://chat/hook" },
--         http = { { url = "^http://chat/", status = 200 } }, -- stubbed answers (Lua patterns)
--       })
--       t.eq(run.status, "ok")
--       local post = run:calls("http")[1]
--       t.eq(post.url, "http://chat/hook")
--       t.match(post.json.text, "payments is down")
--     end,
--   }
--
-- t.runbook(name or path, opts) loads the runbook file in a fresh environment whose tocsin.*
-- actions are recorded fakes (nothing leaves the process), builds ctx as the engine does
-- (defaults, typed parameters checked, incident, approved_by, dry_run) and runs it to the end
-- (the Lua library modules it requires, such as tocsin.steps, get the same fakes):
-- time.sleep advances a fake clock at once, approval.ask answers with opts.approve (true by
-- default; false, or "timeout" to take the ask's on_timeout) by opts.approver ("tester").
-- opts: params, incident, config (settings by key), approve, approver, approved_by, dry_run,
-- now (ms), http / exec / redis / notify (lists of stubs: { url = pattern, method =, status =,
-- body =, json =, error =, times = n } for http (a stub with times answers that many requests,
-- so a list gives a series of answers); { argv1 = pattern, status =, stdout =, stderr =,
-- error = } for exec; { command = "GET", reply =, error = } for redis; { kind =, status =,
-- error = } for notify). The result: status ("ok" or "failed"), error, logs ({level, text}),
-- run:calls(kind) (the recorded actions of a kind, in order: http, exec, redis, notify, emit,
-- approval, incident, sleep), and the runbook's table as book.
-- t.rules(opts) tests rules: the real correlation engine with the rules of opts.rules (a
-- directory; default the configured rules_dir) on a simulated clock starting at opts.now, the
-- service graph from opts.topology (the topology file's JSON as a table), nothing leaving the
-- process. h:signal{ name =, service =, kind = "alert"|"anomaly", severity =, ts =, labels = }
-- offers a signal (the defaults are the engine's), h:change{...} records a deploy, h:clear(fp)
-- resolves an alert, h:advance(s) moves the clock; h:incidents() and h:runbooks() say what the
-- rules did. One harness at a time (the clock is the process's); h:close() when done.
local fs = require("tocsin.testfs")
local json = require("tocsin.json")

local M = {}

function M.rules(opts)
  return require("tocsin.testrules").new(opts or {})
end

-- ---- assertions --------------------------------------------------------------------------------

local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 3 then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = (type(k) == "number" and "" or tostring(k) .. " = ") .. show(v[k], depth + 1)
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
M.show = show

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not deep_eq(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

function M.eq(got, want, what)
  if not deep_eq(got, want) then
    error(string.format("%sexpected %s, got %s", what and (what .. ": ") or "", show(want),
                        show(got)), 2)
  end
end

function M.truthy(v, what)
  if not v then error((what or "expected a true value") .. ", got " .. show(v), 2) end
end

function M.match(s, pattern, what)
  if type(s) ~= "string" or not string.find(s, pattern) then
    error(string.format("%sexpected something matching %q, got %s", what and (what .. ": ") or "",
                        pattern, show(s)), 2)
  end
end

-- Raises unless fn raises an error whose message matches pattern (when given).
function M.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then error("expected an error, none was raised", 2) end
  if pattern and not string.find(tostring(err), pattern) then
    error(string.format("expected an error matching %q, got %s", pattern, tostring(err)), 2)
  end
end

-- A JSON file next to the test file (or a path under the runbooks or rules directory).
function M.fixture(name)
  local text = fs.read(fs.dirs().test_dir .. "/" .. name)
  return json.decode(text)
end

-- ---- fakes ---------------------------------------------------------------------------------------

-- The first stub that matches and is not used up (a stub with times = n answers n times).
local function stub_for(list, pred)
  for _, s in ipairs(list or {}) do
    if pred(s) and (s.times == nil or (s.used or 0) < s.times) then
      s.used = (s.used or 0) + 1
      return s
    end
  end
end

local function fakes(opts, calls, logs)
  local clock = opts.now or 1764000000000
  local function record(kind, t)
    t.kind = kind
    t.at = clock
    calls[#calls + 1] = t
    return t
  end
  local F = {}

  local http = {}
  function http.request(o)
    local method = o.method or ((o.body or o.json) and "POST" or "GET")
    record("http", { method = method, url = o.url, json = o.json, body = o.body,
                     headers = o.headers })
    if opts.dry_run then return { dry_run = true, ok = true, status = 0, body = "" } end
    local s = stub_for(opts.http, function(s)
      return (not s.method or s.method == method) and string.find(o.url, s.url or "")
    end) or {}
    if s.error then return nil, s.error end
    local body = s.body or (s.json and json.encode(s.json)) or ""
    return { status = s.status or 200, body = body, headers = s.headers or {},
             json = s.json }
  end
  function http.get(url, o)
    o = o or {}
    o.url, o.method = url, "GET"
    return http.request(o)
  end
  function http.post(url, o)
    o = o or {}
    o.url, o.method = url, "POST"
    return http.request(o)
  end
  F["tocsin.http"] = http

  F["tocsin.exec"] = {
    run = function(o)
      record("exec", { argv = o.argv, timeout = o.timeout })
      if opts.dry_run then return { dry_run = true, ok = true, status = 0, body = "" } end
      local s = stub_for(opts.exec, function(s)
        return string.find(o.argv[1] or "", s.argv1 or "")
      end) or {}
      if s.error then return nil, s.error end
      local status = s.status or s.code or 0
      return { status = status, code = status, stdout = s.stdout or "", stderr = s.stderr or "",
               signal = s.signal or 0, truncated = false, ms = 0 }
    end,
  }

  F["tocsin.redis"] = {
    call = function(...)
      local args = { ... }
      record("redis", { args = args })
      if opts.dry_run then return { dry_run = true, ok = true, status = 0, body = "" } end
      local s = stub_for(opts.redis, function(s)
        return not s.command or string.upper(s.command) == string.upper(tostring(args[1]))
      end) or {}
      if s.error then return nil, s.error end
      return s.reply == nil and "OK" or s.reply
    end,
  }

  local notify = {}
  for _, kind in ipairs({ "slack", "mattermost", "pagerduty", "webhook" }) do
    notify[kind] = function(a, b, c)
      record("notify", { target = kind, url = type(a) == "string" and a or nil,
                         message = type(a) == "table" and a or b, options = c })
      if opts.dry_run then return { dry_run = true, ok = true, status = 0, body = "" } end
      local s = stub_for(opts.notify, function(s) return not s.kind or s.kind == kind end) or {}
      if s.error then return nil, s.error end
      return { status = s.status or 200, attempts = 1, dedup_key = s.dedup_key }
    end
  end
  F["tocsin.notify"] = notify

  F["tocsin.emit"] = {
    sample = function(s) record("emit", { sample = s }) return true end,
    event = function(kind, data) record("emit", { event = kind, data = data }) return true end,
  }

  F["tocsin.approval"] = {
    ask = function(o)
      record("approval", { reason = o.reason, who = o.who, timeout_s = o.timeout_s })
      if opts.dry_run then return true, "dry-run", "" end
      local a = opts.approve
      if a == nil then a = true end
      if a == "timeout" then return (o.on_timeout == "approve"), "timeout", "nobody decided" end
      return a and true or false, opts.approver or "tester", opts.note or ""
    end,
  }

  local incident = {}
  for _, verb in ipairs({ "annotate", "link", "ack", "mitigate", "resolve" }) do
    incident[verb] = function(id, a, b)
      record("incident", { op = verb, id = id, note = a, title = b })
      return opts.incident or { id = id }
    end
  end
  incident.get = function(id)
    if opts.incident and opts.incident.id == id then return opts.incident end
    return nil, "not_found"
  end
  F["tocsin.incident"] = incident

  F["tocsin.time"] = {
    now = function() return clock end,
    sleep = function(s)
      record("sleep", { seconds = s })
      clock = clock + math.floor(s * 1000)
      return true
    end,
    deadline = function() end,
  }

  local function logger(level)
    return function(fmt, ...)
      local ok, text = pcall(string.format, fmt, ...)
      logs[#logs + 1] = { level = level, text = ok and text or tostring(fmt) }
    end
  end
  F["tocsin.log"] = { debug = logger("debug"), info = logger("info"), warn = logger("warn"),
                      error = logger("error") }

  local real_config = require("tocsin.config")
  F["tocsin.config"] = {
    get = function(k)
      local v = (opts.config or {})[k]
      if v ~= nil then return v end
      return real_config.get(k)
    end,
  }
  F["tocsin.state"] = {}
  return F
end

-- ---- running a runbook ---------------------------------------------------------------------------

local TYPES = { string = true, integer = true, number = true, boolean = true, table = true }

local function type_of(v)
  if math.type(v) == "integer" then return "integer" end
  return type(v)
end

local function is_spec(v)
  return type(v) == "table" and TYPES[v.type] == true
end

-- The parameters as the engine gives them: checked, defaults filled in.
local function params_of(book, given)
  local out = {}
  for k, v in pairs(given or {}) do out[k] = v end
  for k, decl in pairs(book.params or {}) do
    local v = out[k]
    if is_spec(decl) then
      if v == nil then
        if decl.default == nil and decl.required then
          error(string.format("parameter '%s' is required", k), 0)
        end
        out[k] = decl.default
      else
        local got = type_of(v)
        if not (got == decl.type or (decl.type == "number" and got == "integer")) then
          error(string.format("parameter '%s' must be of type %s, not %s", k, decl.type, got), 0)
        end
        if decl.min and v < decl.min then
          error(string.format("parameter '%s' must be at least %s", k, decl.min), 0)
        end
        if decl.max and v > decl.max then
          error(string.format("parameter '%s' must be at most %s", k, decl.max), 0)
        end
        if decl.pattern and type(v) == "string" and not string.match(v, "^" .. decl.pattern .. "$") then
          error(string.format("parameter '%s' does not match %s", k, decl.pattern), 0)
        end
        if decl.enum then
          local found = false
          for _, e in ipairs(decl.enum) do found = found or e == v end
          if not found then
            error(string.format("parameter '%s' is not one of the values allowed", k), 0)
          end
        end
      end
    elseif v == nil then
      out[k] = decl
    end
  end
  return out
end

local function load_script(name, dir)
  local path = name
  if not string.find(name, "%.lua$") then path = dir .. "/" .. name .. ".lua" end
  return path, fs.read(path)
end

function M.runbook(name, opts)
  opts = opts or {}
  local calls, logs = {}, {}
  local F = fakes(opts, calls, logs)
  local path, text = load_script(name, fs.dirs().runbooks)
  local env = setmetatable({}, { __index = _G })
  local loaded = {}
  env.require = function(mod)
    if F[mod] ~= nil then return F[mod] end
    if loaded[mod] ~= nil then return loaded[mod] end
    -- a Lua library module (lua/tocsin/steps.lua, ...) gets the same fakes
    local lib = fs.dirs().lib
    local lpath = lib .. "/" .. string.gsub(mod, "%.", "/") .. ".lua"
    local ok, src = pcall(fs.read, lpath)
    if ok then
      local chunk, err = load(src, "@" .. lpath, "t", env)
      if not chunk then error(err, 2) end
      loaded[mod] = chunk() or true
      return loaded[mod]
    end
    return require(mod)
  end
  local chunk, err = load(text, "@" .. path, "t", env)
  if not chunk then error(err, 2) end
  local book = chunk()
  if type(book) ~= "table" or type(book.run) ~= "function" then
    error(path .. ": not a runbook (a table with run)", 2)
  end
  local result = { book = book, logs = logs, status = "ok" }
  function result.calls(_, kind)
    local out = {}
    for _, c in ipairs(calls) do
      if not kind or c.kind == kind then out[#out + 1] = c end
    end
    return out
  end
  local ok, p = pcall(params_of, book, opts.params)
  if not ok then
    result.status, result.error = "bad_params", p
    return result
  end
  local ctx = { run_id = "TEST-1", runbook = book.name, level = book.level,
                origin = opts.origin or "test", dry_run = opts.dry_run and true or false,
                approved_by = opts.approved_by or "", params = p, incident = opts.incident }
  local rok, rerr = pcall(book.run, ctx)
  if not rok then result.status, result.error = "failed", tostring(rerr) end
  return result
end

return M
