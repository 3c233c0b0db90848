#!/usr/bin/env bash
# tocsin test (issue 7): the shipped runbooks' and rules' Lua tests pass; a failing assertion, a
# broken test file and a test reaching outside the scripts are reported, with a non-zero exit;
# a rule test that expects what the rules do not do fails.
. "$(dirname "$0")/lib.sh"
check "--help explains it" bash -c "'$TOCSIN' test --help | grep -q '_test.lua'"
"$TOCSIN" test "$SRC/runbooks/tests" --scripts.runbooks_dir="$SRC/runbooks" --scripts.lib_dir="$SRC/lua" >"$T/shipped.txt" 2>&1 && rc=0 || rc=$?
cat "$T/shipped.txt"
check "the shipped runbooks' tests pass ($rc)" bash -c "[ $rc = 0 ] && grep -q ' 0 failed' $T/shipped.txt && ! grep -q '^not ok' $T/shipped.txt"
"$TOCSIN" test "$SRC/rules/tests" --scripts.rules_dir="$SRC/rules" --scripts.lib_dir="$SRC/lua" >"$T/rules.txt" 2>&1 && rc=0 || rc=$?
cat "$T/rules.txt"
check "the shipped rules' tests pass ($rc)" bash -c "[ $rc = 0 ] && grep -q ' 0 failed' $T/rules.txt && ! grep -q '^not ok' $T/rules.txt"
mkdir -p "$T/rules-one/tests"
cp "$SRC/rules/40-time-window.lua" "$T/rules-one/" # grouping by time alone: no topology rule
cat >"$T/rules-one/tests/window_test.lua" <<'EOF'
local t = require("tocsin.testing")
local topo = { services = { { name = "a", depends_on = { "b" } }, { name = "b" } } }
return {
  ["related services are one incident only with the topology rule"] = function()
    local h = t.rules { topology = topo }
    h:signal { name = "Slow", service = "b" }
    h:signal { name = "Slow", service = "a" }
    t.eq(#h:incidents(), 1)
    h:close()
  end,
}
EOF
"$TOCSIN" test "$T/rules-one/tests" --scripts.rules_dir="$T/rules-one" --scripts.lib_dir="$SRC/lua" >"$T/one.txt" 2>&1 && rc=0 || rc=$?
cat "$T/one.txt"
check "a rule test can fail: without the topology rule they are two incidents ($rc)" bash -c \
    "[ $rc = 1 ] && grep -q 'expected 1, got 2' $T/one.txt"
mkdir -p "$T/rb/tests"
cat >"$T/rb/echo.lua" <<'EOF'
local http = require("tocsin.http")
return { name = "echo", level = 1, params = { n = { type = "integer", default = 1, max = 5 } },
  run = function(ctx) assert(http.post("http://x/" .. ctx.params.n, { json = { n = ctx.params.n } })) end }
EOF
cat >"$T/rb/tests/echo_test.lua" <<'EOF'
local t = require("tocsin.testing")
return {
  ["passes"] = function() t.eq(t.runbook("echo", {}):calls("http")[1].url, "http://x/1") end,
  ["fails on purpose"] = function() t.eq(t.runbook("echo", {}):calls("http")[1].json, { n = 2 }) end,
  ["typed parameters are checked"] = function()
    t.eq(t.runbook("echo", { params = { n = 9 } }).status, "bad_params")
  end,
  ["cannot read outside the scripts"] = function()
    t.raises(function() require("tocsin.testfs").read("/etc/passwd") end, "not under the scripts")
  end,
}
EOF
printf 'return { ["x"] = function() end\n' >"$T/rb/tests/broken_test.lua"
"$TOCSIN" test "$T/rb/tests" --scripts.runbooks_dir="$T/rb" --scripts.lib_dir="$SRC/lua" >"$T/out.txt" 2>&1 && rc=0 || rc=$?
cat "$T/out.txt"
check "a failing test: exit 1 ($rc)" test "$rc" = 1
check "it names the test and says what was expected and what came" \
    grep -q 'not ok - .*echo_test.lua: fails on purpose' "$T/out.txt"
check "the assertion message is readable" grep -q 'expected { n = 2 }, got { n = 1 }' "$T/out.txt"
check "the other tests of the file still run and pass" bash -c \
    "grep -q '^ok - .*: passes' $T/out.txt && grep -q '^ok - .*typed parameters are checked' $T/out.txt && grep -q '^ok - .*cannot read outside' $T/out.txt"
check "a broken test file is reported with file:line" grep -q 'not ok - .*broken_test.lua:.*broken_test.lua:[0-9]' "$T/out.txt"
check "the summary counts them" grep -q '5 test(s) in 2 file(s): 3 passed, 2 failed' "$T/out.txt"
"$TOCSIN" test "$T/nope" >/dev/null 2>"$T/err" && rc=0 || rc=$?
check "a missing path: exit 1 naming it ($rc)" bash -c "[ $rc = 1 ] && grep -q 'nope: no such file' $T/err"
finish
