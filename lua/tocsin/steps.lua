-- tocsin.steps: a runbook's steps with per-step timeouts, retries with backoff, and
-- compensation (undo) when a step fails for good.
--
--   local steps = require("tocsin.steps")
--   local ok, report = steps.run {
--     { name = "drain", run = function() assert(http.post(...)) end,
--       undo = function() assert(http.post(...)) end },
--     { name = "restart", run = function() ... end, timeout_s = 60, retries = 2, backoff_s = 5 },
--   }
--
-- A step fails when its run function raises an error or returns nil/false with a message. It is
-- tried 1 + retries times, waiting backoff_s (default 1), then twice as long each time (at most
-- max_backoff_s, default 60) between tries. timeout_s bounds each try: an action still waiting
-- when it passes returns nil, "step <name> timed out after <n> s" (time.deadline), which
-- assert() turns into the step's failure. When a step fails for good, the undo functions of the
-- steps done before it run in reverse order (their failures are logged, not raised), and
-- steps.run returns false and a report { failed =, error =, attempts =, compensated = {...},
-- undo_failed = {...} }; else true and { done = {...} }. Everything a step does through tocsin's
-- actions is in the run's audit trail as usual.
--
-- steps.wait_for(check, { timeout_s = 60, every_s = 5, what = "..." }) waits for a condition.
local time = require("tocsin.time")
local log = require("tocsin.log")

local M = {}

local function try(st)
  if st.timeout_s then
    time.deadline(st.timeout_s, string.format("step %s timed out after %g s", st.name, st.timeout_s))
  end
  local ok, r1, r2 = pcall(st.run)
  if st.timeout_s then time.deadline(nil) end
  if not ok then return false, tostring(r1) end
  if (r1 == nil or r1 == false) and r2 ~= nil then return false, tostring(r2) end
  return true
end

function M.run(list, opts)
  opts = opts or {}
  assert(type(list) == "table", "steps.run: give a list of steps")
  local done = {}
  for i, st in ipairs(list) do
    assert(type(st) == "table" and type(st.name) == "string" and type(st.run) == "function",
           string.format("steps.run: step %d needs a name and a run function", i))
    local tries = 1 + (st.retries or 0)
    local wait = st.backoff_s or 1
    local ok, err
    for attempt = 1, tries do
      ok, err = try(st)
      if ok then break end
      log.warn("step %s failed (try %d of %d): %s", st.name, attempt, tries, err)
      if attempt < tries then
        time.sleep(wait)
        wait = math.min(wait * 2, st.max_backoff_s or opts.max_backoff_s or 60)
      end
    end
    if not ok then
      local report = { failed = st.name, error = err, attempts = tries, compensated = {},
                       undo_failed = {} }
      for j = #done, 1, -1 do
        local d = done[j]
        if d.undo then
          local uok, uerr = pcall(d.undo)
          if uok then
            report.compensated[#report.compensated + 1] = d.name
          else
            report.undo_failed[#report.undo_failed + 1] = d.name
            log.error("undo of step %s failed: %s", d.name, tostring(uerr))
          end
        end
      end
      log.warn("step %s failed for good; undone: %s", st.name,
               #report.compensated > 0 and table.concat(report.compensated, ", ") or "nothing")
      return false, report
    end
    done[#done + 1] = st
  end
  local names = {}
  for _, d in ipairs(done) do names[#names + 1] = d.name end
  return true, { done = names }
end

-- Waits until check() returns a true value (which it then returns), calling it every every_s
-- (default 5) seconds, at most timeout_s (default 60): then nil, "timed out waiting for <what>
-- after <n> s". An error in check() is raised. Every wait is a time.sleep: the engine goes on.
function M.wait_for(check, opts)
  opts = opts or {}
  local every, timeout = opts.every_s or 5, opts.timeout_s or 60
  local what = opts.what or "the condition"
  local waited = 0
  while true do
    local v = check()
    if v then return v end
    if waited >= timeout then
      return nil, string.format("timed out waiting for %s after %g s", what, waited)
    end
    local step = math.min(every, timeout - waited)
    time.sleep(step)
    waited = waited + step
  end
end

return M
