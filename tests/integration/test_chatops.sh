#!/usr/bin/env bash
# ChatOps (issue 8): Slack slash commands and buttons signed with the signing secret (tampered,
# wrong-secret, stale, future, unsigned and malformed requests refused with 401 and audited),
# the answer within Slack's 3 s and later ones through response_url; Mattermost slash commands
# and outgoing webhooks (the documented bodies) with token checks; `tocsin chat` over the API
# with a token; built-in and Lua commands, usage lines instead of stack traces, roles from users
# and channels for commands and runbook levels; silences; hot reload of commands; the audit
# stream. End to end: a signed slash command starts a runbook that needs approval, a signed
# button click approves it, the runbook finishes, and the receiver standing in for response_url
# got each message.
. "$(dirname "$0")/lib.sh"
start_redis
start_receiver
SECRET=8f742231b10e8888abcd99yyyzzz85a5
MMTOKEN=okwexkjpe7ygb8eq1ww58t483w # the token of Mattermost's documented slash command body
mkdir -p "$T/runbooks" "$T/chatops" "$T/none"
cp "$SRC/chatops/"*.lua "$T/chatops/"
cat >"$T/runbooks/restart.lua" <<EOF
local http = require("tocsin.http")
local approval = require("tocsin.approval")
return {
  name = "restart", level = 3, description = "restart a service",
  params = { service = { type = "string", required = true }, replicas = { type = "integer", default = 1 } },
  run = function(ctx)
    local ok, by = approval.ask { reason = "restart " .. ctx.params.service .. "?", timeout_s = 60 }
    if not ok then error("not approved (" .. by .. ")", 0) end
    assert(http.post("$RECEIVER_URL/restart", { json = { service = ctx.params.service, by = by } }))
    return "restarted " .. ctx.params.service .. " x" .. ctx.params.replicas
  end,
}
EOF
cat >"$T/runbooks/diag.lua" <<'EOF'
return { name = "diag", level = 2, description = "read-only checks",
         triggers = { { command = "checkup" } },
         run = function(ctx) return "all good" end }
EOF
cat >"$T/chatops/echo.lua" <<'EOF'
local chatops = require("tocsin.chatops")
local time = require("tocsin.time")
return chatops.command {
  name = "echo", help = "wait N tenths of a second, then say the words back",
  args = { { name = "n", type = "integer", required = true }, { name = "words", rest = true } },
  run = function(ctx, args)
    time.sleep(args.n / 10)
    return { text = string.format("v1 %s (%s) said: %s", ctx.user, ctx.role, args.words or ""),
             in_channel = true }
  end,
}
EOF
cat >"$T/chatops/boom.lua" <<'EOF'
local chatops = require("tocsin.chatops")
return chatops.command { name = "boom", help = "always fails", role = "responder",
  run = function(ctx, args) local t = nil; return t.field end }
EOF
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$SRC/rules", runbooks_dir = "$T/runbooks", lib_dir = "$SRC/lua",
              detection_dir = "$T/none", commands_dir = "$T/chatops" },
  detect = { enabled = false },
  notify = { webhook_url = "$RECEIVER_URL/notify" },
  chatops = {
    slack = { signing_secret = "$SECRET" },
    mattermost = { tokens = { "$MMTOKEN", "zmigewsanbbsdf59xnmduzypjc" } },
    api_tokens = { alice = "tok-alice", carol = "tok-carol", admin = "tok-admin" },
    users = { alice = "operator", bob = "responder", admin = "admin" },
    channels = { ["war-room"] = "responder" },
    command_roles = { top = "responder" },
    reply_timeout_ms = 1000,
  },
}
CONF
start_engine "$T/tocsin.conf.lua"
SC="python3 $SRC/tests/tools/slack_client.py"
RESP="${RECEIVER_URL%/hook}/response"
audit() { rcli XRANGE tocsin:audit - + | tr '\n' ' '; }
has() { # has TEXT PATTERN...: every pattern is in TEXT (a glob: * matches anything)
    local s=$1 p; shift
    for p in "$@"; do
        # shellcheck disable=SC2053
        [[ "$s" == *$p* ]] || { echo "# '$p' not in: ${s:0:400}"; return 1; }
    done
}
lacks() { [[ "$1" != *"$2"* ]] || { echo "# '$2' in: ${1:0:400}"; return 1; }; }
received() { grep -c "\"path\": \"/response\"" "$T/received.jsonl" || true; }

# ---- refused requests -------------------------------------------------------------------
for bad in "--tamper" "--ts-offset -301" "--ts-offset 301" "--no-sig" "--no-ts"; do
    # shellcheck disable=SC2086
    out=$($SC command "$URL" "$SECRET" --user alice --text help $bad)
    check "slack $bad -> 401 with a JSON reason (${out:0:90})" has "$out" '401 ' '"error":"unauthorized"'
done
out=$($SC command "$URL" wrong-secret --user alice --text help)
check "slack wrong secret -> 401 ($out)" has "$out" '401' 'does not match'
out=$(curl -s -w ' %{http_code}' -H 'X-Slack-Request-Timestamp: 1531420618' \
    -H 'X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503' \
    --data-binary @"$SRC/../shared/vectors/slack/signing_example_body.txt" "$URL/chatops/slack/command")
check "Slack's documented request, replayed years later -> 401 stale ($out)" has "$out" 'too far from now' '401'
out=$(curl -s -w ' %{http_code}' -H 'X-Slack-Request-Timestamp: 12x' -H 'X-Slack-Signature: v0=zz' \
    -d 'text=help' "$URL/chatops/slack/interactive")
check "slack malformed signature headers on the buttons endpoint -> 401 ($out)" has "$out" 'malformed' '401'
sleep 0.3
n=$(audit | grep -o 'chat.refused' | wc -l)
check "the 8 refused Slack requests are in the audit stream ($n)" [ "$n" -eq 8 ]
check "... and counted in /metrics" bash -c \
    "curl -s $URL/metrics | grep -q '^tocsin_chatops_refused_total 8'"

# ---- the end-to-end approval over Slack -------------------------------------------------
out=$($SC command "$URL" "$SECRET" --user alice --channel ops --text "run restart service=checkout replicas=2" --response-url "$RESP")
check "signed /tocsin run by an operator -> 200, started, in channel (${out:0:120})" has "$out" '200 ' '"response_type":"in_channel"' 'Started `restart`'
check "the approval request reaches the response_url with Approve/Deny buttons" \
    wait_for 10 grep -q 'asks for approval: restart checkout?' "$T/received.jsonl"
apr=$(curl -s "$URL/api/v1/approvals" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "... the buttons carry the pending approval's id ($apr)" python3 -c "
import json
for l in open('$T/received.jsonl'):
    r = json.loads(l)
    if 'asks for approval' in r['body']:
        m = json.loads(r['body'])
        acts = [b for b in m['blocks'] if b['type'] == 'actions'][0]['elements']
        assert [(a['action_id'], a['value']) for a in acts] == [('tocsin_approve', '$apr'), ('tocsin_deny', '$apr')], acts
        break
else:
    raise SystemExit('no approval message')"
out=$($SC click "$URL" "$SECRET" --user bob --approval "$apr" --action approve --response-url "$RESP")
check "a responder's click is acknowledged (200) ..." has "$out" '200'
check "... but refused: the level 3 runbook needs an operator (message kept)" \
    wait_for 10 bash -c "grep -q 'bob: your role is responder; deciding on level 3' $T/received.jsonl"
check "... and the run still waits" bash -c "curl -s $URL/api/v1/approvals | grep -q $apr"
out=$($SC click "$URL" "$SECRET" --user alice --approval "$apr" --action approve --response-url "$RESP" --tamper)
check "a tampered click -> 401" has "$out" '401'
out=$($SC click "$URL" "$SECRET" --user alice --approval "$apr" --action approve --response-url "$RESP")
check "the operator's signed click -> 200" has "$out" '200'
check "the runbook acts (its restart call arrives)" \
    wait_for 10 grep -q '"path": "/hook/restart"' "$T/received.jsonl"
check "the response_url gets the decision, the run's end with its output, and the button's answer" \
    wait_for 10 python3 -c "
import json
bodies = [json.loads(l)['body'] for l in open('$T/received.jsonl') if json.loads(l)['path'] == '/response']
assert any('*approved* by alice' in b for b in bodies), bodies
assert any('finished *ok*' in b and 'restarted checkout x2' in b for b in bodies), bodies
click = [json.loads(b) for b in bodies if 'Approved' in b]
assert click and click[0]['replace_original'] is True, bodies"
run=$(curl -s "$URL/api/runs" | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["runbook"]=="restart"][0]["run"])')
check "the run's record: ok, started by chat, approved by alice" python3 -c "
import json, urllib.request
r = [r for r in json.load(urllib.request.urlopen('$URL/api/runs')) if r['run'] == '$run'][0]
assert r['status'] == 'ok' and r['origin'] == 'chatops:slack:alice' and r['output'] == 'restarted checkout x2', r
steps = [s for s in r['steps'] if s['action'] == 'approval.ask']
assert steps and steps[0]['result']['by'] == 'alice', r"

# ---- slow commands, usage lines, failures, roles ----------------------------------------
start=$(date +%s%N)
out=$($SC command "$URL" "$SECRET" --user alice --text "echo 25 slow answer" --response-url "$RESP")
ms=$((($(date +%s%N) - start) / 1000000))
check "a slow Lua command is answered 'working on it' within the reply timeout (${ms} ms)" bash -c \
    "[[ '$out' == 200*'Working on'* ]] && [ $ms -lt 2900 ]"
check "... and its answer follows on the response_url" \
    wait_for 10 grep -q 'v1 alice (operator) said: slow answer' "$T/received.jsonl"
out=$($SC command "$URL" "$SECRET" --user alice --text "echo 0 fast" --response-url "$RESP")
check "a quick Lua command is answered in the HTTP response" has "$out" 'said: fast'
out=$($SC command "$URL" "$SECRET" --user alice --text "echo many")
check "bad arguments get a usage line (${out:0:100})" bash -c \
    "[[ '$out' == *'n must be an integer, not \`many\`'*'usage: \`echo n [words]\`'* ]]"
out=$($SC command "$URL" "$SECRET" --user alice --text "boom")
check "a failing command says so without a stack trace (${out:0:120})" has "$out" '`boom` failed:' && lacks "$out" traceback
out=$($SC command "$URL" "$SECRET" --user alice --text 'run "restart')
check "an unterminated quote -> a usage answer" has "$out" 'unterminated'
out=$($SC command "$URL" "$SECRET" --user bob --text "run restart service=api")
check "a responder may not run a level 3 runbook ..." has "$out" 'needs operator'
out=$($SC command "$URL" "$SECRET" --user bob --text "run restart service=api --dry-run")
check "... but may run it dry" has "$out" 'Started' 'dry run'
out=$($SC command "$URL" "$SECRET" --user carol --text "run diag")
check "an unlisted user is a viewer: no level 2 runbook" has "$out" 'your role is viewer'
out=$($SC command "$URL" "$SECRET" --user carol --channel war-room --text "run diag")
check "... unless the channel grants more (war-room: responder)" has "$out" 'Started'
out=$($SC command "$URL" "$SECRET" --user carol --text "top")
check "chatops.command_roles overrides a command's role (top needs responder)" has "$out" '`top` needs responder'
out=$($SC command "$URL" "$SECRET" --user alice --text "reload")
check "reload needs admin" has "$out" '`reload` needs admin'
out=$($SC command "$URL" "$SECRET" --user carol --channel war-room --text "checkup --dry-run")
check "a runbook's command trigger is a chat command (checkup = run diag)" has "$out" 'Started `diag` (level 2, dry run)'
out=$($SC command "$URL" "$SECRET" --user carol --text "checkup")
check "... with the same role checks" has "$out" 'running level 2 runbook `diag` needs responder'
out=$($SC command "$URL" "$SECRET" --user carol --text "help")
check "... and help lists it" has "$out" '`checkup ' '` - run `diag` (level 2): read-only checks'
printf 'return {\n  name = "x",\n  level = 1,\n  triggers = { { command = "Bad Name" } },\n  run = function() end,\n}\n' >"$T/bad-trigger.lua"
rc=0; "$TOCSIN" check "$T/bad-trigger.lua" 2>"$T/err" || rc=$?
check "tocsin check refuses a command trigger that is not a command name" bash -c \
    "[ $rc = 1 ] && grep -q 'command = ' $T/err"
out=$($SC command "$URL" "$SECRET" --user alice --text "frobnicate")
check "an unknown command points to help" has "$out" 'no command `frobnicate`'
out=$($SC command "$URL" "$SECRET" --user alice --text "")
check "an empty command is help" has "$out" 'Commands (your role: operator)' '`deploys'

# ---- incidents, explain, ack, resolve, silences -----------------------------------------
alert() { # NAME SERVICE
    post /api/v2/alerts "[{\"labels\":{\"alertname\":\"$1\",\"service\":\"$2\",\"severity\":\"critical\"},\"annotations\":{\"summary\":\"$1 on $2\"}}]" >/dev/null
}
alert HighErrorRate checkout
check "an alert opens an incident" wait_for 10 bash -c "curl -s $URL/api/v1/incidents | grep -q HighErrorRate"
inc=$(curl -s "$URL/api/v1/incidents" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
num=${inc##*-}
out=$($SC command "$URL" "$SECRET" --user carol --text "incidents")
check "incidents lists it" has "$out" "$inc" HighErrorRate
out=$($SC command "$URL" "$SECRET" --user carol --text "show $num")
check "show takes the incident's number" has "$out" "$inc" 'Probable causes'
out=$($SC command "$URL" "$SECRET" --user carol --text "explain $inc")
check "explain gives the root-cause ranking with its evidence" has "$out" 'Root-cause ranking' '1. \*checkout\* (score' '): '
out=$($SC command "$URL" "$SECRET" --user alice --text "run diag --for $num")
check "run --for INCIDENT starts the runbook for it" has "$out" "for \`$inc\`" 'Started `diag`'
check "... and its run record names the incident" wait_for 5 bash -c \
    "curl -s $URL/api/runs | python3 -c \"import json,sys; assert [r for r in json.load(sys.stdin) if r['runbook'] == 'diag' and r['incident'] == '$inc']\""
out=$($SC command "$URL" "$SECRET" --user alice --text "run diag --for 424242")
check "... an unknown incident is named" has "$out" 'no incident `424242`'
out=$($SC command "$URL" "$SECRET" --user carol --text "ack $num")
check "a viewer may not acknowledge" has "$out" '`ack` needs responder'
out=$($SC command "$URL" "$SECRET" --user bob --text "ack $num on it")
check "a responder acknowledges it" has "$out" 'is now \*acknowledged\* (by bob)'
check "... and the incident says so" bash -c \
    "curl -s $URL/api/v1/incidents | grep -q '\"state\":\"acknowledged\"'"
out=$($SC command "$URL" "$SECRET" --user bob --text "show 99999")
check "an unknown incident is named" has "$out" 'no incident `99999`'
out=$($SC command "$URL" "$SECRET" --user bob --text "silence service=payments,severity=~crit.* 1h deploy window")
check "silence MATCHERS DURATION" has "$out" 'Silenced' 'as `SIL-'
sil=$(curl -s "$URL/api/v1/silences" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
alert DiskFull payments
sleep 1
check "a silenced alert opens no incident" bash -c "! curl -s $URL/api/v1/incidents | grep -q DiskFull"
check "... and the silence counted it" bash -c \
    "curl -s $URL/api/v1/silences | grep -q '\"matched\":1'"
out=$($SC command "$URL" "$SECRET" --user bob --text "silence 9service=x 1h")
check "a bad silence gets a usage line" has "$out" 'usage:' 'silence'
out=$($SC command "$URL" "$SECRET" --user bob --text "silence service=x 10y")
check "a bad duration gets a usage line" has "$out" '10y' 'usage:'
out=$($SC command "$URL" "$SECRET" --user bob --text "unsilence $sil")
check "unsilence ends it" has "$out" 'ended'
alert DiskFull payments
check "... and the next alert opens an incident" \
    wait_for 10 bash -c "curl -s $URL/api/v1/incidents | grep -q DiskFull"
out=$($SC command "$URL" "$SECRET" --user alice --text "resolve $num fixed by restart")
check "resolve" has "$out" '\*resolved\*'
post /api/v1/events '{"type":"deploy","service":"checkout","title":"checkout 2.4.1 rolled out","version":"2.4.1"}' >/dev/null
out=$($SC command "$URL" "$SECRET" --user carol --text "deploys checkout")
check "the shipped deploys command shows the change" has "$out" 'deploy' 'checkout' '2.4.1'

# ---- Mattermost -------------------------------------------------------------------------
mm() { curl -s -w ' %{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' "$@" "$URL/chatops/mattermost/command"; }
out=$(mm --data-binary @"$SRC/../shared/vectors/mattermost/slash_command_body_normalized.txt")
check "Mattermost's documented slash command (token in the body) is answered" has "$out" 'no command `asd`' ' 200'
out=$(mm --data-binary @"$SRC/../shared/vectors/mattermost/outgoing_webhook_body_normalized.txt")
check "Mattermost's documented outgoing webhook: the trigger word is not the command" has "$out" 'no command `text`' ' 200'
out=$(mm -H "Authorization: Token $MMTOKEN" -d 'user_name=alice&channel_name=ops&text=whoami')
check "a token in the Authorization header works too" has "$out" 'role \*operator\*' ' 200'
out=$(mm -d 'token=nope&user_name=alice&text=whoami')
check "a wrong Mattermost token -> 401" has "$out" 'not one of chatops.mattermost.tokens' '401'
out=$(mm -d 'user_name=alice&text=whoami')
check "no Mattermost token -> 401" has "$out" 'no token' '401'
out=$(mm -d "token=$MMTOKEN&text=%zz")
check "a malformed form -> 400 naming it" has "$out" 'not a valid form' '400'

# ---- tocsin chat ------------------------------------------------------------------------
out=$("$TOCSIN" chat --url "$URL" --token tok-alice whoami)
check "tocsin chat whoami" [ "$out" = 'alice on cli in cli: role *operator*' ]
out=$("$TOCSIN" chat --url "$URL" --token tok-alice run restart service=search)
n=$(printf '%s' "$out" | grep -o 'RUN-[0-9]*-[0-9]*' | head -1)
check "tocsin chat run starts a run that waits for approval ($n)" wait_for 5 bash -c \
    "curl -s $URL/api/v1/approvals | grep -q '\"run\":\"$n\"'"
out=$("$TOCSIN" chat --url "$URL" --token tok-alice deny "${n##*-}" not now 2>&1 || true)
check "deny takes the run's number" has "$out" "Denied \`$n\` (restart) by alice"
check "... and the run ends denied" wait_for 5 bash -c \
    "curl -s '$URL/api/runs' | grep -q 'not approved (alice)'"
out=$(TOCSIN_URL=$URL TOCSIN_TOKEN=tok-carol "$TOCSIN" chat runs 20)
check "tocsin chat with \$TOCSIN_URL and \$TOCSIN_TOKEN" has "$out" 'restart'
rc=0; "$TOCSIN" chat --url "$URL" --token tok-carol ack "$num" 2>"$T/err" || rc=$?
check "a refused command exits 1 with the reason on stderr" bash -c \
    "[ $rc = 1 ] && grep -q 'needs responder' $T/err"
rc=0; "$TOCSIN" chat --url "$URL" --token bad help 2>"$T/err" || rc=$?
check "a bad token exits 1 and says why" bash -c "[ $rc = 1 ] && grep -q '401' $T/err"
rc=0; "$TOCSIN" chat --url "$URL" 2>/dev/null || rc=$?
check "tocsin chat without a command exits 2" [ $rc = 2 ]
check "tocsin chat --help" bash -c "'$TOCSIN' chat --help | grep -q 'usage: tocsin chat'"
out=$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer tok-alice' -d '{"text": 5}' "$URL/api/v1/chat")
check "the chat API refuses a body without text (400)" has "$out" 'text (the command line)' '400'
out=$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer tok-alice' -d '{"text":"echo 1 hi"}' "$URL/api/v1/chat")
check "the chat API waits for a Lua command's answer" has "$out" '"status":"ok"' 'said: hi' ' 200'

# ---- hot reload of commands -------------------------------------------------------------
sed -i 's/"v1 /"v2 /' "$T/chatops/echo.lua"
check "an edited command is reloaded" wait_for 10 bash -c \
    "'$TOCSIN' chat --url $URL --token tok-alice echo 0 x | grep -q '^v2 '"
echo 'return chatops.command {' >"$T/chatops/echo.lua"
sleep 1
check "a broken edit is rejected: the previous version still answers" bash -c \
    "'$TOCSIN' chat --url $URL --token tok-alice echo 0 x | grep -q '^v2 '"
check "... and the catalog names the error" bash -c \
    "curl -s $URL/api/scripts | grep -q 'echo.lua'"
rc=0; "$TOCSIN" check "$T/chatops/echo.lua" 2>"$T/err" || rc=$?
check "tocsin check refuses the broken command file" bash -c "[ $rc = 1 ] && grep -q 'echo.lua' $T/err"
check "tocsin check passes the shipped commands" bash -c "'$TOCSIN' check '$SRC/chatops' >/dev/null"
out=$("$TOCSIN" chat --url "$URL" --token tok-admin reload 2>&1 || true)
check "an admin may reload (a failed file is reported)" has "$out" '1 file(s) failed'

# ---- hostile input ----------------------------------------------------------------------
big=$(head -c 200000 /dev/zero | tr '\0' 'a')
echo "echo 0 $big" >"$T/big.txt"
out=$($SC command "$URL" "$SECRET" --user alice --text-file "$T/big.txt" | cut -c1-80)
check "a 200 KB command line gets an answer, not a crash (${out:0:80})" has "$out" '200 '
out=$(curl -s -w ' %{http_code}' -d 'payload=not-json' -H "X-Slack-Request-Timestamp: $(date +%s)" \
    -H "X-Slack-Signature: v0=$(printf 'v0:%s:payload=not-json' "$(date +%s)" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')" \
    "$URL/chatops/slack/interactive")
check "a signed click with a payload that is not JSON -> 400" has "$out" 'payload must be a JSON object' '400'
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer tok-alice" --data-binary $'{"text":"echo 0 caf\xc3\xa9 \\u00ff"}' "$URL/api/v1/chat")
check "UTF-8 goes through (${out:0:80})" has "$out" 'café ÿ' ' 200'
printf 'text=%%FF%%FEhelp%%C0%%AF&user_name=alice&token=%s' "$MMTOKEN" >"$T/bad-utf8"
out=$(mm --data-binary @"$T/bad-utf8")
check "bytes that are not UTF-8 are answered with valid JSON (${out:0:80})" python3 -c "
import json, sys; s = sys.argv[1]; body, code = s.rsplit(' ', 1)
assert code == '200' and 'no command' in json.loads(body)['text']" "$out"
sp() { curl -s -w ' %{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$URL/api/v1/silences"; }
check "POST /api/v1/silences: not JSON -> 400" has "$(sp 'matchers=x')" 'a JSON object is required' ' 400'
check "... a field missing -> 400" has "$(sp '{"matchers":"service=x","by":"bob"}')" 'duration' ' 400'
check "... a bad duration -> 400 naming it" has "$(sp '{"matchers":"service=x","duration":"5x","by":"bob"}')" ' 400'
check "... bad matchers -> 400 naming them" has "$(sp '{"matchers":"service=~\"(a\"","duration":"1h","by":"bob"}')" ' 400'
check "... a truncated body -> 400" has "$(sp '{"matchers":"servi')" ' 400'
check "... an unknown silence to expire -> 404" has "$(sp '{"expire":"SIL-0"}')" 'no active silence' ' 404'
check "... a good one -> 201 with its id" has "$(sp '{"matchers":"service=zz","duration":"1m","by":"bob"}')" '"id":"SIL-' ' 201'
long=$(head -c 5000 /dev/zero | tr '\0' 'x')
check "GET /api/v1/incidents/<5000 bytes> -> 404" has "$(curl -s -w ' %{http_code}' "$URL/api/v1/incidents/$long")" 'not_found' ' 404'
check "GET /api/v1/series/%00%ff -> 404" has "$(curl -s -w ' %{http_code}' "$URL/api/v1/series/%00%ff")" 'not_found' ' 404'
check "the engine is still healthy" curl -sf -o /dev/null "$URL/healthz"

# ---- the audit trail --------------------------------------------------------------------
check "every command is audited with who, where, role and result" python3 -c "
import json, subprocess
out = subprocess.run(['redis-cli', '-p', '$REDIS_PORT', '-2', '--json', 'XRANGE', 'tocsin:audit', '-', '+'],
                     capture_output=True).stdout.decode('utf-8', 'replace')
ents = [dict(zip(kv[::2], kv[1::2])) for _, kv in json.loads(out)]
chat = [e for e in ents if e.get('event') == 'chat.command']
assert len([e for e in ents if e.get('event') == 'chat.refused']) >= 12, len(ents)
bob = [e for e in chat if e['user'] == 'bob' and e['command'] == 'ack']
assert bob and bob[0]['role'] == 'responder' and bob[0]['status'] == 'ok' and bob[0]['platform'] == 'slack', bob
assert bob[0]['text'].startswith('ack ') and 'acknowledged' in bob[0]['detail'], bob
den = [e for e in chat if e['user'] == 'carol' and e['status'] == 'denied']
assert den and den[0]['role'] == 'viewer', den
assert [e for e in chat if e['platform'] == 'mattermost'] and [e for e in chat if e['platform'] == 'cli']
assert all(len(e['text']) < 2048 for e in chat), 'the 200 KB line is not copied whole'"
check "the engine stops cleanly" stop_engine
finish
