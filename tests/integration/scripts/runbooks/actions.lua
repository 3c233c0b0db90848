-- test runbook: exec, redis.call, emit; reports everything to the receiver
local http = require("tocsin.http")
local exec = require("tocsin.exec")
local redis = require("tocsin.redis")
local emit = require("tocsin.emit")
return {
  name = "actions", level = 2, params = { url = "" },
  run = function(ctx)
    local out = {}
    local r = assert(exec.run { argv = { "/bin/echo", "hello", "world" } })
    out.echo = r.stdout
    out.echo_status = r.status
    local f = assert(exec.run { argv = { "/bin/false" } })
    out.false_status = f.status
    local _, e1 = exec.run { argv = { "/usr/bin/id" } }
    out.denied = e1
    local _, e2 = exec.run { argv = { "/bin/sleep", "5" }, timeout = 0.3 }
    out.timeout = e2
    local ok, e3 = pcall(exec.run, { argv = "echo hi" })
    out.shell_string = ok and "accepted" or e3
    assert(redis.call("SET", "tocsin:test:key", "v1") == "OK")
    out.get = redis.call("GET", "tocsin:test:key")
    out.incr = redis.call("INCRBY", "tocsin:test:n", 5)
    local _, rerr = redis.call("NOSUCHCOMMAND")
    out.redis_error = rerr
    out.emitted = emit.event("deploy", { service = "payments", version = "2.4.0" })
    local _, serr = emit.sample { name = "bad name", value = 1 }
    out.bad_sample = serr
    assert(http.post(ctx.params.url, { json = out }))
  end,
}
