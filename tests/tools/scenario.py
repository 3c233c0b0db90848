#!/usr/bin/env python3
"""Ground-truth scenarios for correlation and root-cause tests of `tocsin replay`.

usage: scenario.py --family F --seed N --out DIR

Writes, deterministically for (family, seed) (one random.Random(seed) drives everything):
  DIR/events.ndjson  the replay input (docs: `tocsin replay`): alert lines (firing and resolved),
                     deploy and config_change lines, sorted by time (epoch milliseconds)
  DIR/topology.json  the service graph, CMDB style: {"services":[{"name":..,"depends_on":[..]}]}
  DIR/truth.json     {"groups": {alert_id: group_id}, "roots": {group_id: root_service},
                      "family": F, "seed": N, "faults": [what was injected, for people]}
and prints one line of statistics.

The world. A layered microservice graph of 20-40 services, random per seed: edge services
(frontends, gateways) call APIs, APIs call domain services, domain services call other domain
services below them and datastores, caches, queues and search clusters; workers consume queues.
"A depends_on B" means A calls B, so when B breaks, A suffers.

A fault starts at a root service at t0 and spreads to the services that (transitively) depend on
it, one caller edge at a time: each edge passes it on with probability 0.85 * 0.8^depth, after
20-120 s. Every affected service fires a few alerts over the fault's life, named after its role
and place (a root datastore: PostgresDown, ConnectionsExhausted, DiskFull, ...; a root service:
HighErrorRate, PodCrashLooping, OOMKilled, ...; the symptoms: HighLatency, HighErrorRate,
UpstreamTimeouts (labels.upstream names the sick dependency), CircuitBreakerOpen, SLOBurnRate,
ConsumerLagHigh), on one or more instances (labels.instance), some re-firing (resolved and
firing again, or sent again while firing), and all resolved shortly after the fault ends, the
callers a little after their dependencies. Roots alert mostly critical, symptoms mostly warning.
What makes it hard, as in life:
  - the root's own detection lags 2.5-6 min in a quarter of the faults, so in about a third of
    them a symptom fires before the root's first alert;
  - in 3 faults of a service in 10, a dependency of the root alerts too (HighCPU, SlowQueries,
    ConnectionsExhausted: the sick service hammers it), a victim below the cause whose own
    dependencies are healthy; it belongs to the fault's group;
  - about a third of the roots have a deploy (services) or config_change (datastores) 1-10 min
    before t0, the others none; unrelated deploys happen elsewhere throughout, and in 1 fault
    in 5 one of the services it then hurts was deployed 10-55 min before;
  - about 1 call edge in 16 is missing from topology.json (the CMDB is never complete); a caller
    that suffers through a missing edge always reports UpstreamTimeouts with labels.upstream,
    so the edge can be learned from the labels.
Every firing line has its own id "a-<n>" (numbered in time order); resolved lines have none.

The families (one function each, below):
  cascade     one fault.
  concurrent  2-3 unrelated faults overlapping in time, in different parts of the graph (their
              affected services are disjoint and no edge joins them; they may share a healthy
              dependency).
  noisy       one fault plus background alerts on random services throughout (certificate
              expiry, disk space, cron jobs, a passing latency blip on a service the fault does
              not touch, hosts the topology does not list ...): 5-7.5% of the alerts (fewer
              when the fault is small: a perfect grouping keeps 92% fewer incidents than
              alerts), each its own group of one.
  flapping    one fault plus an unrelated alert (not adjacent to the fault's services when the
              graph allows, never on one of them) that fires and resolves every few minutes
              from before the fault until after it: all its firings are one group, rooted at
              its service.
  sequential  3-4 faults one after another, each starting more than 20 minutes after the last
              alert of the previous one resolved; the same root fails twice at least once
              (a separate group each time).
  deploy      2-3 faults, each caused by a change of its root 1-10 minutes before (a deploy of
              a service, a config change of a datastore), ended by a rollback; plenty of
              unrelated deploys, some on the services the fault then hurts.

Ground truth: the alerts of one fault (root and symptoms, every firing) are one group whose
root is the fault's root service; a noise alert is a group of its own; the flapping alert's
firings are one group. Python 3 standard library only.
"""
import argparse
import json
import os
import random
import sys

BASE_MS = 1764000000000
MIN = 60 * 1000
SEC = 1000

FAMILIES = ("cascade", "concurrent", "noisy", "flapping", "sequential", "deploy")

# ---- the service graph ---------------------------------------------------------------------

EDGE = ["web-frontend", "mobile-bff", "api-gateway", "admin-portal", "partner-gateway",
        "storefront"]
API = ["orders-api", "catalog-api", "users-api", "search-api", "checkout-api", "account-api",
       "cart-api", "payments-api"]
DOMAIN = ["orders", "inventory", "pricing", "payments", "ledger", "shipping", "notifications",
          "recommendations", "auth", "profiles", "catalog", "cart", "fraud", "billing", "reviews",
          "loyalty", "tax", "promotions", "invoices", "sessions"]
WORKERS = ["email-worker", "order-events-consumer", "search-indexer", "report-builder",
           "webhook-dispatcher"]
# (name, role, technology)
DATA = [("postgres-orders", "db", "postgres"), ("postgres-users", "db", "postgres"),
        ("postgres-payments", "db", "postgres"), ("mysql-catalog", "db", "mysql"),
        ("mongodb-reviews", "db", "mongodb"), ("redis-sessions", "cache", "redis"),
        ("redis-cache", "cache", "redis"), ("kafka", "queue", "kafka"),
        ("rabbitmq", "queue", "rabbitmq"), ("elasticsearch", "search", "elasticsearch")]
TEAMS = ["commerce", "identity", "platform", "growth", "payments-team", "data", "fulfilment"]
APP_ROLES = ("edge", "api", "service", "worker")


class Service:
    def __init__(self, name, role, tech, instances, team):
        self.name, self.role, self.tech, self.team = name, role, tech, team
        self.instances = instances
        self.depends_on = []
        self.callers = []


def make_topology(rng):
    """A layered graph (a DAG: edges only point to lower layers), every service reachable."""
    edge = rng.sample(EDGE, rng.randint(2, 4))
    api = rng.sample(API, rng.randint(3, 6))
    domain = rng.sample(DOMAIN, rng.randint(8, 14))  # the order is the layering inside
    workers = rng.sample(WORKERS, rng.randint(1, 3))
    data = rng.sample(DATA, rng.randint(6, 9))
    if not any(d[1] == "queue" for d in data):  # workers need a queue
        data[-1] = next(d for d in DATA if d[0] == "kafka")
    svcs = {}

    def add(name, role, tech, lo, hi):
        svcs[name] = Service(name, role, tech, rng.randint(lo, hi), rng.choice(TEAMS))

    for n in edge:
        add(n, "edge", "app", 2, 5)
    for n in api:
        add(n, "api", "app", 2, 5)
    for n in domain:
        add(n, "service", "app", 2, 6)
    for n in workers:
        add(n, "worker", "app", 1, 3)
    for n, role, tech in data:
        add(n, role, tech, 3 if role in ("queue", "search") else 1, 3)
    stores = [d[0] for d in data if d[1] == "db"]
    caches = [d[0] for d in data if d[1] == "cache"]
    queues = [d[0] for d in data if d[1] == "queue"]
    search = [d[0] for d in data if d[1] == "search"]

    def dep(a, b):
        if b not in svcs[a].depends_on and a != b:
            svcs[a].depends_on.append(b)

    for n in edge:
        for b in rng.sample(api, rng.randint(min(2, len(api)), min(4, len(api)))):
            dep(n, b)
        if "auth" in domain and rng.random() < 0.5:
            dep(n, "auth")
    for n in api:
        for b in rng.sample(domain[: max(4, len(domain) * 2 // 3)], rng.randint(1, 3)):
            dep(n, b)
        if caches and rng.random() < 0.4:
            dep(n, rng.choice(caches))
        if search and n == "search-api":
            dep(n, search[0])
    for i, n in enumerate(domain):
        lower = domain[i + 1:]
        for b in rng.sample(lower, min(len(lower), rng.choice((0, 0, 1, 1, 2)))):
            dep(n, b)
        if stores and rng.random() < 0.85:
            dep(n, rng.choice(stores))
        if caches and rng.random() < 0.3:
            dep(n, rng.choice(caches))
        if queues and rng.random() < 0.35:
            dep(n, rng.choice(queues))
        if search and rng.random() < 0.1:
            dep(n, search[0])
    for n in workers:
        dep(n, rng.choice(queues))
        for b in rng.sample(stores + domain[len(domain) // 2:], rng.randint(1, 2)):
            dep(n, b)
    # every service below the edge has a caller, from a layer above it
    order = edge + api + domain + workers + [d[0] for d in data]
    rank = {n: i for i, n in enumerate(order)}
    for n in order:
        s = svcs[n]
        if s.role == "edge" or s.role == "worker":
            continue
        if not any(n in svcs[c].depends_on for c in order):
            if s.role == "api":
                above = edge
            elif s.role == "service":
                above = api + [d for d in domain if rank[d] < rank[n]]
            else:
                above = [d for d in domain] + workers
            dep(rng.choice(above), n)
    for n in order:
        for b in svcs[n].depends_on:
            svcs[b].callers.append(n)
    return [svcs[n] for n in order]


def undirected_neighbours(topo, names):
    by = {s.name: s for s in topo}
    out = set()
    for n in names:
        out.update(by[n].depends_on)
        out.update(by[n].callers)
    return out


# ---- alert names, by role -------------------------------------------------------------------

ROOT_FAULTS = {
    "postgres": [["PostgresDown", "PostgresReplicaLagging"], ["ConnectionsExhausted",
                 "PostgresSlowQueries"], ["DiskFull", "PostgresWALArchiveFailing"],
                 ["PostgresSlowQueries", "HighCPU"]],
    "mysql": [["MySQLDown"], ["ConnectionsExhausted", "MySQLSlowQueries"], ["DiskFull"],
              ["MySQLReplicationBroken", "MySQLSlowQueries"]],
    "mongodb": [["MongoDBDown"], ["ConnectionsExhausted"], ["DiskFull", "MongoDBReplicationLag"]],
    "redis": [["RedisDown"], ["RedisMemoryFull", "RedisEvictionsHigh"], ["RedisLatencyHigh"]],
    "kafka": [["KafkaBrokerDown", "KafkaUnderReplicatedPartitions"], ["KafkaDiskFull"],
              ["KafkaOfflinePartitions"]],
    "rabbitmq": [["RabbitMQNodeDown"], ["RabbitMQMemoryAlarm", "QueueDepthHigh"]],
    "elasticsearch": [["ElasticsearchClusterRed"], ["ElasticsearchHeapHigh",
                      "ElasticsearchSlowSearches"]],
    "app": [["HighErrorRate", "PodCrashLooping"], ["OOMKilled", "PodCrashLooping"],
            ["HighLatency", "CPUThrottlingHigh"], ["HighErrorRate"],
            ["ThreadPoolExhausted", "HighLatency"], ["PodCrashLooping", "PodNotReady"]],
}
# (name, weight) of the symptoms a caller of a sick dependency shows
SYMPTOMS = {
    "edge": [("SLOBurnRate", 3), ("HighLatency", 3), ("HighErrorRate", 2), ("Http5xxRate", 1)],
    "api": [("HighLatency", 3), ("HighErrorRate", 3), ("UpstreamTimeouts", 3),
            ("CircuitBreakerOpen", 1), ("SLOBurnRate", 1)],
    "service": [("HighLatency", 3), ("HighErrorRate", 3), ("UpstreamTimeouts", 3),
                ("CircuitBreakerOpen", 1)],
    "worker": [("ConsumerLagHigh", 3), ("JobFailures", 2), ("HighErrorRate", 1)],
}
# what a dependency shows when a sick caller hammers it
SIDE_EFFECTS = {
    "postgres": ["PostgresSlowQueries", "HighCPU", "ConnectionsExhausted"],
    "mysql": ["MySQLSlowQueries", "HighCPU", "ConnectionsExhausted"],
    "mongodb": ["ConnectionsExhausted", "HighCPU"],
    "redis": ["RedisLatencyHigh", "HighCPU"],
    "kafka": ["KafkaProduceLatencyHigh", "KafkaRequestQueueFull"],
    "rabbitmq": ["QueueDepthHigh", "RabbitMQMemoryAlarm"],
    "elasticsearch": ["ElasticsearchSlowSearches", "ElasticsearchRejectedRequests"],
    "app": ["HighLatency", "ThreadPoolExhausted", "HighCPU"],
}
NOISE = [("CertificateExpiringSoon", "info"), ("DiskSpaceLow", "warning"),
         ("HighMemoryUsage", "warning"), ("NodeCPUHigh", "warning"), ("CronJobFailed", "warning"),
         ("BackupDelayed", "warning"), ("PodRestarted", "info"), ("ConfigReloadFailed", "warning"),
         ("ClockSkew", "warning"), ("LogVolumeHigh", "info")]
# hosts and tools the CMDB does not list
OUTSIDE = [("k8s-node-%d", ["NodeNotReady", "KubeletPLEGSlow", "NodeDiskPressure"]),
           ("ci-runner-%d", ["RunnerOffline"]), ("vpn-gateway-%d", ["TunnelDown"]),
           ("bastion-%d", ["SSHLoginFailures"])]
NOISE_LIKE_SYMPTOMS = [("HighLatency", "warning"), ("HighErrorRate", "warning")]
FLAPPERS = [("ProbeFailed", "warning"), ("NodeDiskPressure", "warning"), ("HighCPU", "warning"),
            ("QueueDepthHigh", "warning"), ("ReplicaLagWarning", "warning")]
CONFIG_TITLES = ["max_connections 400 -> 100", "statement_timeout 30s -> 2s",
                 "pool size 50 -> 10", "maxmemory-policy noeviction", "retention.ms lowered",
                 "feature flag new-checkout-flow on", "request timeout 2s -> 500ms",
                 "rate limit 1000/s -> 100/s"]


def summary(rng, name, service, upstream=None):
    f = {
        "HighLatency": lambda: "p99 latency %.1f s above 1 s" % rng.uniform(1.2, 9),
        "HighErrorRate": lambda: "%.1f%% of requests fail" % rng.uniform(2, 40),
        "Http5xxRate": lambda: "%.1f%% of responses are 5xx" % rng.uniform(2, 30),
        "UpstreamTimeouts": lambda: "calls to %s time out (%d/min)" % (upstream,
                                                                         rng.randint(20, 900)),
        "CircuitBreakerOpen": lambda: "circuit breaker to %s open" % upstream,
        "SLOBurnRate": lambda: "error budget burning %.0fx" % rng.uniform(6, 40),
        "ConsumerLagHigh": lambda: "consumer lag %d messages" % rng.randint(5000, 900000),
        "JobFailures": lambda: "%d jobs failed in 5 min" % rng.randint(5, 300),
        "ConnectionsExhausted": lambda: "%d/%d connections in use" % (100, 100),
        "DiskFull": lambda: "disk %.0f%% full" % rng.uniform(97, 100),
        "PodCrashLooping": lambda: "restarted %d times in 10 min" % rng.randint(3, 12),
        "OOMKilled": lambda: "container killed: out of memory",
    }.get(name)
    return f() if f else "%s on %s" % (name, service)


def weighted(rng, pairs):
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


# ---- the event list ------------------------------------------------------------------------

class Scenario:
    def __init__(self, rng, topo, family, seed):
        self.rng, self.topo, self.family, self.seed = rng, topo, family, seed
        self.by = {s.name: s for s in topo}
        self.events = []  # (ts, seq, event dict, group or None)
        self.roots = {}
        self.faults = []
        self.protect = []  # (service, from_ms, to_ms): no unrelated deploys of roots there
        self.start = BASE_MS + rng.randrange(0, 6 * 3600) * SEC + rng.randrange(0, 1000)
        # the CMDB is never quite complete: about 1 call edge in 16 is missing from the file
        # (a caller that suffers through a missing edge says so: UpstreamTimeouts, upstream=)
        edges = [(s.name, b) for s in topo for b in s.depends_on]
        self.hidden = set(rng.sample(edges, len(edges) // 16))

    def emit(self, ts, ev, group=None):
        ev = dict(ev)
        ev["ts"] = int(ts)
        self.events.append((int(ts), len(self.events), ev, group))

    def alert(self, ts, svc, name, severity, labels, group, status="firing", upstream=None):
        ev = {"type": "alert", "name": name, "service": svc, "severity": severity,
              "status": status, "labels": labels}
        if status == "firing":
            ev["summary"] = summary(self.rng, name, svc, upstream)
        self.emit(ts, ev, group if status == "firing" else None)

    def life(self, svc, name, severity, labels, group, first, end, upstream=None, refire=0.5):
        """One alert (fingerprint) from first to end: fires, maybe resolves and fires again or
        is sent again while firing, and is resolved at end."""
        rng = self.rng
        t = first
        self.alert(t, svc, name, severity, labels, group, upstream=upstream)
        for _ in range(4):
            if end - t < 5 * MIN or rng.random() >= refire:
                break
            if rng.random() < 0.65:  # resolves for a while, then fires again
                r = t + rng.randint(2 * MIN, 6 * MIN)
                f = r + rng.randint(30 * SEC, 150 * SEC)
                if f >= end - 30 * SEC:
                    break
                self.alert(r, svc, name, severity, labels, group, "resolved")
                self.alert(f, svc, name, severity, labels, group, upstream=upstream)
                t = f
            else:  # sent again while still firing
                f = t + rng.randint(4 * MIN, 8 * MIN)
                if f >= end - 30 * SEC:
                    break
                self.alert(f, svc, name, severity, labels, group, upstream=upstream)
                t = f
        self.alert(max(end, t + 20 * SEC), svc, name, severity, labels, group, "resolved")

    def labels(self, svc, inst, **extra):
        s = self.by[svc]
        d = {"instance": "%s-%d" % (svc, inst), "env": "prod", "team": s.team}
        d.update(extra)
        return d

    def change(self, ts, kind, svc, title=None):
        s = self.by[svc]
        if kind == "deploy":
            v = "%d.%d.%d" % (self.rng.randint(1, 9), self.rng.randint(0, 40),
                              self.rng.randint(0, 9))
            self.emit(ts, {"type": "deploy", "service": svc, "version": v,
                           "title": title or "%s %s" % (svc, v)})
        else:
            self.emit(ts, {"type": "config_change", "service": svc,
                           "title": title or "%s: %s" % (s.name, self.rng.choice(CONFIG_TITLES))})

    # -- faults --

    def spread(self, root, t0, blocked=()):
        """The services a fault at root reaches: {name: (depth, onset_ms, parent)}."""
        rng = self.rng
        hit = {root: (0, t0, None)}
        queue = [root]
        while queue:
            x = queue.pop(0)
            d, t, _ = hit[x]
            for c in self.by[x].callers:
                if c in hit or c in blocked:
                    continue
                if rng.random() < 0.85 * 0.8 ** d:
                    hit[c] = (d + 1, t + rng.randint(20 * SEC, 120 * SEC), x)
                    queue.append(c)
        # a side effect below the root: a bad service hammers what it calls (retry storms, a
        # heavy query), so a dependency that is not the cause alerts too (depth -1)
        below = [b for b in self.by[root].depends_on if b not in blocked]
        if self.by[root].role in APP_ROLES and below and rng.random() < 0.3:
            hit[rng.choice(below)] = (-1, t0 + rng.randint(30 * SEC, 150 * SEC), root)
        return hit

    def pick_root(self, exclude=(), roles=None):
        w = {"db": 25, "cache": 8, "queue": 8, "search": 4, "service": 40, "api": 10, "edge": 1,
             "worker": 1}
        cands = [(s.name, w[s.role]) for s in self.topo
                 if s.name not in exclude and s.callers and (roles is None or s.role in roles)]
        return weighted(self.rng, cands)

    def plan(self, t0, min_services=4, exclude=(), blocked=(), roles=None, root=None):
        """Chooses a root (unless given) and how far its fault spreads."""
        best = None
        for attempt in range(60):
            r = root or self.pick_root(set(exclude) | set(blocked), roles)
            if r is None or r in blocked:
                break
            hit = self.spread(r, t0)
            if blocked and set(hit) & (set(blocked)):
                hit = None if attempt < 40 else self.spread(r, t0, blocked)
            if hit and len(hit) >= min_services:
                return r, hit
            if hit and (best is None or len(hit) > len(best[1])):
                best = (r, hit)
        return best if best else (root, {root: (0, t0, None)})

    def fault(self, group, t0, duration, root, hit, change=None, rollback=False):
        """Writes the alerts of one fault; change: None, "deploy" or "config_change"."""
        rng = self.rng
        end = t0 + duration
        self.roots[group] = root
        rs = self.by[root]
        if change:
            self.change(t0 - rng.randint(1 * MIN, 10 * MIN), change, root)
        if rollback:
            back = end - rng.randint(0, 2 * MIN)
            if change == "deploy":
                self.change(back, "deploy", root, "%s rollback" % root)
            else:
                self.change(back, "config_change", root, "%s: revert" % root)
        self.protect.append((root, t0 - 60 * MIN, end + 5 * MIN))
        lag = rng.randint(150 * SEC, 360 * SEC) if rng.random() < 0.25 else rng.randint(0, 20 * SEC)
        names = rng.choice(ROOT_FAULTS[rs.tech])
        n_inst = rs.instances if rng.random() < 0.5 else rng.randint(1, rs.instances)
        insts = sorted(rng.sample(range(rs.instances), n_inst))
        first_root = None
        for k, name in enumerate(names):
            for i in insts:
                first = t0 + lag + (0 if k == 0 and i == insts[0] else rng.randint(0, 4 * MIN))
                first_root = first if first_root is None else min(first_root, first)
                sev = "critical" if rng.random() < 0.8 else "warning"
                self.life(root, name, sev, self.labels(root, i), group, first,
                          end + rng.randint(0, 60 * SEC))
        for svc, (d, onset, parent) in sorted(hit.items(), key=lambda kv: kv[1][1]):
            if d == 0:
                continue
            s = self.by[svc]
            if d < 0:
                for name in rng.sample(SIDE_EFFECTS[s.tech], rng.randint(1, 2)):
                    for i in sorted(rng.sample(range(s.instances), rng.randint(1, s.instances))):
                        self.life(svc, name, "warning", self.labels(svc, i), group,
                                  onset + rng.randint(0, 120 * SEC), end + rng.randint(0, 60 * SEC))
                continue
            recover = end + d * rng.randint(10 * SEC, 60 * SEC)
            k = rng.choice((1, 2, 2, 3))
            chosen = ["UpstreamTimeouts"] if (svc, parent) in self.hidden else []
            while len(chosen) < k:
                n = weighted(rng, SYMPTOMS[s.role])
                if n not in chosen:
                    chosen.append(n)
            for j, name in enumerate(chosen):
                up = parent if name in ("UpstreamTimeouts", "CircuitBreakerOpen") else None
                n_inst = s.instances if rng.random() < 0.4 else rng.randint(1, s.instances)
                for i in sorted(rng.sample(range(s.instances), n_inst)):
                    first = onset + rng.randint(0, 90 * SEC if j == 0 else 300 * SEC)
                    stop = recover + rng.randint(0, 60 * SEC)
                    if rng.random() < 0.2:  # a transient symptom
                        stop = min(stop, first + rng.randint(3 * MIN, 10 * MIN))
                    if first >= stop - 30 * SEC:
                        continue
                    if name == "SLOBurnRate":
                        sev = "critical"
                    elif name == "HighErrorRate" and d <= 1:
                        sev = "critical"
                    else:
                        sev = "warning"
                    lab = self.labels(svc, i, upstream=up) if up else self.labels(svc, i)
                    self.life(svc, name, sev, lab, group, first, stop, upstream=up)
        # a deploy that did not cause it, on a service it then hurts
        others = [s for s in hit if s != root and self.by[s].role in APP_ROLES]
        if others and rng.random() < 0.2:
            self.change(t0 - rng.randint(10 * MIN, 55 * MIN), "deploy", rng.choice(others))
        self.faults.append({"group": group, "root": root, "t0": t0, "end": end,
                            "first_root_alert": first_root, "change": change,
                            "services": sorted(hit, key=lambda n: hit[n][1]),
                            "depth": max(v[0] for v in hit.values()),
                            "side_effect": [n for n, v in hit.items() if v[0] < 0]})
        return self.last_ts()

    def last_ts(self):
        return max(e[0] for e in self.events)

    def background_deploys(self, start, end, lo=8, hi=25):
        rng = self.rng
        apps = [s.name for s in self.topo if s.role in APP_ROLES]
        t = start + rng.randint(0, hi * MIN)
        while t < end:
            svc = rng.choice(apps)
            if not any(p[0] == svc and p[1] <= t <= p[2] for p in self.protect):
                self.change(t, "deploy", svc)
            t += rng.randint(lo * MIN, hi * MIN)

    def maybe_change(self, root):
        if self.rng.random() >= 0.35:
            return None
        return "deploy" if self.by[root].role in APP_ROLES else "config_change"

    # -- output --

    def write(self, out):
        os.makedirs(out, exist_ok=True)
        self.events.sort(key=lambda e: (e[0], e[1]))
        groups, n = {}, 0
        with open(os.path.join(out, "events.ndjson"), "w") as f:
            for ts, _, ev, group in self.events:
                if ev["type"] == "alert" and ev["status"] == "firing":
                    n += 1
                    ev = {"type": "alert", "ts": ts, "id": "a-%d" % n,
                          **{k: v for k, v in ev.items() if k not in ("type", "ts")}}
                    groups[ev["id"]] = group
                else:
                    ev = {"type": ev["type"], "ts": ts,
                          **{k: v for k, v in ev.items() if k not in ("type", "ts")}}
                f.write(json.dumps(ev, separators=(",", ":")) + "\n")
        edges = [(s.name, b) for s in self.topo for b in s.depends_on]
        hidden = self.hidden
        with open(os.path.join(out, "topology.json"), "w") as f:
            json.dump({"services": [{"name": s.name,
                                     "depends_on": [b for b in s.depends_on
                                                    if (s.name, b) not in hidden]}
                                    for s in self.topo]}, f, indent=1)
            f.write("\n")
        with open(os.path.join(out, "truth.json"), "w") as f:
            json.dump({"groups": groups, "roots": self.roots, "family": self.family,
                       "seed": self.seed, "faults": self.faults,
                       "hidden_edges": [list(e) for e in edges if e in hidden]}, f, indent=1)
            f.write("\n")
        sizes = {}
        for g in groups.values():
            sizes[g] = sizes.get(g, 0) + 1
        single = sum(1 for v in sizes.values() if v == 1)
        changes = sum(1 for e in self.events if e[2]["type"] != "alert")
        return ("%s seed %d: %d services, %d alerts, %d groups (%d of >=2 alerts), noise %.1f%%, "
                "%d change events, best compression %.3f" %
                (self.family, self.seed, len(self.topo), n, len(sizes), len(sizes) - single,
                 100.0 * single / max(n, 1), changes, 1 - len(sizes) / max(n, 1)))


# ---- the families --------------------------------------------------------------------------

def cascade(sc):
    """One fault."""
    rng = sc.rng
    t0 = sc.start + rng.randint(10 * MIN, 20 * MIN)
    root, hit = sc.plan(t0)
    end = sc.fault("g-1", t0, rng.randint(12 * MIN, 40 * MIN), root, hit, sc.maybe_change(root))
    sc.background_deploys(sc.start, end + 10 * MIN)


def concurrent(sc):
    """2-3 unrelated faults overlapping in time, in different parts of the graph."""
    rng = sc.rng
    t0 = sc.start + rng.randint(10 * MIN, 20 * MIN)
    want = rng.randint(2, 3)
    best = []
    for _ in range(30):  # places the faults first: at least two that stay apart
        placed, taken = [], set()
        for k in range(want):
            tk = t0 + (0 if k == 0 else rng.randint(1 * MIN, 12 * MIN))
            blocked = taken | undirected_neighbours(sc.topo, taken)
            root, hit = sc.plan(tk, min_services=3 if k == 0 else 2, blocked=blocked)
            if root is None or root in blocked or set(hit) & blocked:
                break
            taken |= set(hit)
            placed.append((tk, root, hit))
        if len(placed) > len(best):
            best = placed
        if len(best) == want:
            break
    end = t0
    for k, (tk, root, hit) in enumerate(best):
        end = max(end, sc.fault("g-%d" % (k + 1), tk, rng.randint(15 * MIN, 40 * MIN), root, hit,
                                sc.maybe_change(root)))
    sc.background_deploys(sc.start, end + 10 * MIN)


def noisy(sc):
    """One fault plus unrelated background alerts (5-7.5% of all), each its own group."""
    rng = sc.rng
    t0 = sc.start + rng.randint(10 * MIN, 20 * MIN)
    root, hit = sc.plan(t0)
    dur = rng.randint(15 * MIN, 40 * MIN)
    end = sc.fault("g-1", t0, dur, root, hit, sc.maybe_change(root))
    fault_alerts = sum(1 for e in sc.events if e[3] is not None)
    share = rng.uniform(0.05, 0.075)
    # at most what leaves a perfect grouping 92% fewer incidents than alerts
    cap = int((0.08 * fault_alerts - 1) / 0.92)
    count = max(1, min(round(share * fault_alerts / (1 - share)), cap))
    stop = end + 15 * MIN
    for k in range(count):
        t = rng.randint(sc.start, stop)
        x = rng.random()
        if x < 0.3:  # a passing blip that looks like a symptom, where the fault is not
            name, sev = rng.choice(NOISE_LIKE_SYMPTOMS)
            svc = rng.choice([s.name for s in sc.topo if s.role in APP_ROLES and s.name not in hit])
        elif x < 0.5:  # a host or tool the topology does not know
            pattern, names = rng.choice(OUTSIDE)
            svc, name, sev = pattern % rng.randint(1, 12), rng.choice(names), "warning"
        else:
            name, sev = rng.choice(NOISE)
            svc = rng.choice([s.name for s in sc.topo])
        group = "n-%d" % (k + 1)
        sc.roots[group] = svc
        if svc in sc.by:
            lab = sc.labels(svc, rng.randrange(sc.by[svc].instances))
        else:
            lab = {"instance": svc, "env": "prod", "team": "platform"}
        sc.alert(t, svc, name, sev, lab, group)
        sc.alert(t + rng.randint(1 * MIN, 15 * MIN), svc, name, sev, lab, group, "resolved")
    sc.background_deploys(sc.start, stop)


def flapping(sc):
    """One fault plus an unrelated alert firing and resolving every few minutes: one group."""
    rng = sc.rng
    t0 = sc.start + rng.randint(10 * MIN, 20 * MIN)
    root, hit = sc.plan(t0)
    end = sc.fault("g-1", t0, rng.randint(12 * MIN, 35 * MIN), root, hit, sc.maybe_change(root))
    near = set(hit) | undirected_neighbours(sc.topo, hit)
    cands = [s.name for s in sc.topo if s.name not in near] or \
            [s.name for s in sc.topo if s.name not in hit]
    svc = rng.choice(cands)
    name, sev = rng.choice(FLAPPERS)
    lab = sc.labels(svc, rng.randrange(sc.by[svc].instances))
    sc.roots["flap-1"] = svc
    t = sc.start + rng.randint(0, 5 * MIN)
    stop = end + rng.randint(10 * MIN, 30 * MIN)
    while t < stop:
        sc.alert(t, svc, name, sev, lab, "flap-1")
        r = t + rng.randint(45 * SEC, 150 * SEC)
        sc.alert(r, svc, name, sev, lab, "flap-1", "resolved")
        t = r + rng.randint(150 * SEC, 420 * SEC)
    sc.faults.append({"group": "flap-1", "root": svc, "flapping": name})
    sc.background_deploys(sc.start, stop)


def sequential(sc):
    """3-4 faults one after another, quiet gaps over 20 minutes, one root failing twice."""
    rng = sc.rng
    n = rng.randint(3, 4)
    t = sc.start + rng.randint(10 * MIN, 20 * MIN)
    used = []
    again = rng.randint(2, n)  # the fault (1-based) that repeats an earlier root
    for k in range(1, n + 1):
        if k == again:
            root, hit = sc.plan(t, root=rng.choice(used), min_services=2)
        else:
            root, hit = sc.plan(t, exclude=used)
        used.append(root)
        end = sc.fault("g-%d" % k, t, rng.randint(10 * MIN, 30 * MIN), root, hit,
                       sc.maybe_change(root))
        t = end + rng.randint(21 * MIN, 40 * MIN)
    sc.background_deploys(sc.start, end + 10 * MIN)


def deploy(sc):
    """2-3 faults caused by changes of their roots, ended by rollbacks; many other deploys."""
    rng = sc.rng
    t = sc.start + rng.randint(15 * MIN, 25 * MIN)
    used = []
    for k in range(1, rng.randint(2, 3) + 1):
        if rng.random() < 0.3:
            root, hit = sc.plan(t, exclude=used, roles=("db", "cache", "queue", "search"))
        else:
            root, hit = sc.plan(t, exclude=used, roles=("service", "api"))
        used.append(root)
        change = "deploy" if sc.by[root].role in APP_ROLES else "config_change"
        end = sc.fault("g-%d" % k, t, rng.randint(10 * MIN, 30 * MIN), root, hit, change,
                       rollback=True)
        t = end + rng.randint(21 * MIN, 35 * MIN)
    sc.background_deploys(sc.start, end + 10 * MIN, lo=4, hi=12)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Writes a correlation/RCA test scenario with its ground truth "
                    "(events.ndjson, topology.json, truth.json).",
        epilog="families: " + ", ".join(FAMILIES) + " (described at the top of this file)")
    ap.add_argument("--family", required=True, choices=FAMILIES)
    ap.add_argument("--seed", required=True, type=int)
    ap.add_argument("--out", required=True, help="directory to write (created if needed)")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    sc = Scenario(rng, make_topology(rng), a.family, a.seed)
    globals()[a.family](sc)
    print(sc.write(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
