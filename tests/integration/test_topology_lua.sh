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
    -- tocsin.similarity: alert signatures
    local similarity = require("tocsin.similarity")
    local s1 = similarity.signature{ labels = { service = "checkout", alertname = "DiskFull" },
                                     text = "disk 93% on host-7" }
    local s2 = similarity.signature{ labels = { service = "checkout", alertname = "DiskFull" },
                                     text = "disk 95% on host-7" }
    local s3 = similarity.signature{ labels = { service = "search", alertname = "HighLatency" },
                                     text = "p99 latency above 2s" }
    local sa = similarity.signature(a)
    log.info("sim same=%.2f/%.2f other=%s/%s hex=%d anomaly_tokens=%d", s1:jaccard(s2),
             s1:similarity(s2), tostring(s1:jaccard(s3) < 0.3), tostring(s1:similarity(s3) < 0.9),
             #s1:simhash(), sa:tokens())
    log.info("simhash_similarity=%.2f", similarity.simhash_similarity(s1:simhash(), s2:simhash()))
    -- tocsin.rca: the random walk over the anomalous part of the graph, symptom -> cause
    local rca = require("tocsin.rca")
    local ranked, info = rca.pagerank{
      edges = { { "frontend", "checkout", 0.9 }, { "checkout", "payments", 0.95 },
                { "payments", "db", 1.0 } },
      personalization = { frontend = 0.9, checkout = 0.95, payments = 0.97, db = 1.0 } }
    log.info("rca top=%s second=%s converged=%s n=%d", ranked[1].service, ranked[2].service,
             tostring(info.converged), #ranked)
    local ok, err = pcall(rca.pagerank, { edges = { { "a", "b", -1 } } })
    log.info("rca bad weight refused=%s (%s)", tostring(not ok), tostring(err):match("weight[^)]*"))
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
check "similar alerts are alike, different ones are not" \
    grep -q "sim same=1.00/1.00 other=true/true hex=16 anomaly_tokens=[1-9]" "$T/engine.log"
check "SimHashes compare as text too" grep -q "simhash_similarity=1.00" "$T/engine.log"
check "the random walk puts the chain's root cause (db) first" \
    grep -q "rca top=db second=payments converged=true n=4" "$T/engine.log"
check "a negative weight is refused with an error naming it" grep -q "rca bad weight refused=true (weight must be a number >= 0" "$T/engine.log"
check "no rule error" bash -c "! grep -q 'rule.*failed\|error' $T/engine.log"
check "the engine stops cleanly" stop_engine
finish
