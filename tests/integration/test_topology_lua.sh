#!/usr/bin/env bash
# tocsin.topology in rules (issue 6, the C graph helpers exposed to Lua): the service graph from
# the topology file merged with edges learned from traces, queried by a rule while it handles an
# anomaly: direct callers and callees, upstream and downstream, k-hop, paths and distances.
. "$(dirname "$0")/lib.sh"
start_redis
mkdir -p "$T/rules" "$T/none"
cat >"$T/topology.json" <<'TOPO'
{ "services": [ { "name": "frontend", "depends_on": ["checkout", "search"] },
                { "name": "checkout", "depends_on": ["payments", "cart"] },
                { "name": "payments" }, { "name": "cart" }, { "name": "search" },
                { "name": "billing" } ] }
TOPO
cat >"$T/rules/graph.lua" <<'LUA'
local topology = require("tocsin.topology")
local log = require("tocsin.log")
local function list(t) return table.concat(t, ",") end
return {
  name = "graph",
  on_anomaly = function(a)
    local s = a.service
    log.info("callers=%s callees=%s neighbors=%s", list(topology.callers(s)),
             list(topology.callees(s)), list(topology.neighbors(s)))
    log.info("upstream=%s downstream=%s", list(topology.upstream(s)), list(topology.downstream(s)))
    local k = topology.khop(s, 1)
    local names = {}
    for n, d in pairs(k) do names[#names + 1] = n .. ":" .. d end
    table.sort(names)
    log.info("khop1=%s", list(names))
    log.info("path=%s dist=%s", list(topology.path("frontend", "db") or {}),
             tostring(topology.distance("frontend", "db", true)))
    local p, why = topology.path("billing", "cart")
    local d, why2 = topology.distance("nowhere", "cart")
    log.info("nopath=%s/%s unknown=%s/%s has=%s,%s", tostring(p), why, tostring(d), why2,
             tostring(topology.has("cart")), tostring(topology.has("nowhere")))
    for _, e in ipairs(topology.edges()) do
      if e.from == "payments" then
        log.info("edge %s->%s sources=%s observed=%d", e.from, e.to, list(e.sources), e.observed)
      end
    end
  end,
}
LUA
cat >"$T/tocsin.conf.lua" <<CONF
return {
  redis = { url = "redis://127.0.0.1:$REDIS_PORT" },
  data_dir = "$T/data",
  scripts = { rules_dir = "$T/rules", runbooks_dir = "$T/none", detection_dir = "$T/none" },
  topology = { file = "$T/topology.json" },
  detect = { zscore = { window = 30, min_samples = 20 } },
}
CONF
start_engine "$T/tocsin.conf.lua"
# a trace teaches payments -> db
cat >"$T/trace.json" <<'JSON'
{"resourceSpans":[
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},
  "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"charge","kind":2,"startTimeUnixNano":"1764000000000000000","endTimeUnixNano":"1764000000100000000"}]}]},
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"db"}}]},
  "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b174","name":"query","kind":2,"startTimeUnixNano":"1764000000010000000","endTimeUnixNano":"1764000000090000000"}]}]}]}
JSON
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/trace.json" "$URL/v1/traces")
check "the trace is accepted ($r)" test "$r" = 200
now=$(date +%s)
body="["
for i in $(seq 0 29); do
    body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"checkout\"},\"value\":$((100 + i % 3)),\"timestamp\":$((now - 100 + i))},"
done
body="$body{\"name\":\"latency_ms\",\"labels\":{\"service\":\"checkout\"},\"value\":900,\"timestamp\":$((now - 10))}]"
post /api/v1/samples "$body" >/dev/null
check "the rule ran on the anomaly" wait_for 10 grep -q "callers=" "$T/engine.log"
check "direct callers, callees and neighbours of checkout" \
    grep -q "callers=frontend callees=payments,cart neighbors=payments,cart,frontend" "$T/engine.log"
check "upstream and downstream (learned edge payments->db included)" \
    grep -q "upstream=frontend downstream=payments,cart,db" "$T/engine.log"
check "1-hop neighbourhood with distances" grep -q "khop1=cart:1,checkout:0,frontend:1,payments:1" "$T/engine.log"
check "a directed path through the learned edge" grep -q "path=frontend,checkout,payments,db dist=3" "$T/engine.log"
check "no path and unknown services answer nil with a reason" \
    grep -q "nopath=nil/no_path unknown=nil/unknown_service has=true,false" "$T/engine.log"
check "edges carry their sources" grep -q "edge payments->db sources=traces observed=1" "$T/engine.log"
check "no rule error" bash -c "! grep -q 'rule.*failed\|error' $T/engine.log"
check "the engine stops cleanly" stop_engine
finish
