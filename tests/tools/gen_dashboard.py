#!/usr/bin/env python3
"""Writes grafana/dashboards/tocsin.json, the tocsin dashboard (engine health, ingestion,
anomalies, incidents with MTTD/MTTA/MTTR, automation and ChatOps), from the panel list below.
Run it after changing a panel: python3 tests/tools/gen_dashboard.py > grafana/dashboards/tocsin.json
test_metrics_grafana.sh checks that every query parses (promtool) and names metrics tocsin
exports."""
import json
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
panels = []
pid = 0
y = 0


def row(title):
    global pid, y
    pid += 1
    panels.append({"type": "row", "title": title, "id": pid, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
    y += 1


def panel(kind, title, exprs, x, w, h=7, unit=None, desc="", legend=None, extra=None):
    global pid
    pid += 1
    targets = []
    for i, e in enumerate(exprs):
        expr, leg = e if isinstance(e, tuple) else (e, legend)
        t = {"datasource": DS, "expr": expr, "refId": chr(65 + i)}
        if leg:
            t["legendFormat"] = leg
        if kind in ("table", "bargauge"):
            t["instant"] = True
            t["format"] = "table" if kind == "table" else "time_series"
        targets.append(t)
    p = {"type": kind, "title": title, "id": pid, "datasource": DS, "description": desc,
         "gridPos": {"h": h, "w": w, "x": x, "y": y}, "targets": targets,
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}}
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1,
                                                  "fillOpacity": 10, "showPoints": "never"}
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    if extra:
        p.update(extra)
    panels.append(p)


def next_row(h=7):
    global y
    y += h


row("Engine health")
panel("stat", "Up", ["tocsin_redis_connected"], 0, 3, 4, desc="1 when tocsin's Redis connection is up",
      extra={"fieldConfig": {"defaults": {"mappings": [{"type": "value", "options": {
          "0": {"text": "Redis down", "color": "red"}, "1": {"text": "up", "color": "green"}}}]},
          "overrides": []}})
panel("stat", "Uptime", ["tocsin_uptime_seconds"], 3, 3, 4, unit="s")
panel("stat", "Rules / runbooks", [("tocsin_rules_loaded", "rules"), ("tocsin_runbooks_loaded", "runbooks")],
      6, 4, 4)
panel("stat", "Script errors (1h)", ["sum(increase(tocsin_script_errors_total[1h])) + sum(increase(tocsin_rule_errors_total[1h]))"],
      10, 4, 4, desc="Rules and runbooks that failed to load or run")
panel("stat", "Reloads (1h)", ["sum(increase(tocsin_script_reloads_total[1h]))"], 14, 3, 4)
panel("timeseries", "Redis round trip", ["tocsin_redis_last_latency_seconds"], 17, 7, 4, unit="s",
      legend="latency")
next_row(4)
row("Ingestion")
panel("timeseries", "Records accepted by input", ["sum by (input) (rate(tocsin_ingest_records_total[$__rate_interval]))"],
      0, 10, unit="ops", legend="{{input}}")
panel("timeseries", "Refused and bad requests", [
    ("sum(rate(tocsin_ingest_bad_requests_total[$__rate_interval]))", "bad requests"),
    ("sum(rate(tocsin_ingest_requests_refused_total[$__rate_interval]))", "refused (backpressure)"),
    ("sum(rate(tocsin_store_write_errors_total[$__rate_interval]))", "store write errors")], 10, 7, unit="reqps")
panel("timeseries", "Queue: samples waiting for Redis", ["tocsin_ingest_inflight_samples"], 17, 7,
      legend="in flight")
next_row()
row("Anomalies")
panel("timeseries", "Samples scored / anomalies", [
    ("rate(tocsin_detect_samples_scored_total[$__rate_interval])", "samples scored"),
    ("rate(tocsin_detect_anomalies_total[$__rate_interval])", "anomalies (metrics)"),
    ("rate(tocsin_detect_log_trace_anomalies_total[$__rate_interval])", "anomalies (logs, traces)")],
      0, 10, unit="ops")
panel("stat", "Series tracked", ["tocsin_detect_series"], 10, 4)
panel("table", "Top anomaly scores (metrics.anomaly_scores = true)", ["topk(10, tocsin_anomaly_score)"], 14, 10,
      desc="The latest score of the series scoring highest; exported only when metrics.anomaly_scores is on",
      extra={"transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True,
             "instance": True, "job": True}}}]})
next_row()
row("Incidents")
panel("stat", "Open incidents", ["tocsin_incidents_open"], 0, 4, desc="Open, acknowledged or mitigated")
panel("timeseries", "Incidents opened / reopened / auto-resolved", [
    ("increase(tocsin_incidents_opened_total[$__rate_interval])", "opened"),
    ("increase(tocsin_incidents_reopened_total[$__rate_interval])", "reopened"),
    ("increase(tocsin_incidents_auto_resolved_total[$__rate_interval])", "auto-resolved")], 4, 8)
panel("bargauge", "MTTD by service (range)", [
    ("sum by (service) (increase(tocsin_incident_time_to_detect_seconds_sum[$__range])) / "
     "sum by (service) (increase(tocsin_incident_time_to_detect_seconds_count[$__range]))", "{{service}}")],
      12, 4, unit="s", desc="Mean time from an incident's first signal to its opening")
panel("bargauge", "MTTA by service (range)", [
    ("sum by (service) (increase(tocsin_incident_time_to_acknowledge_seconds_sum[$__range])) / "
     "sum by (service) (increase(tocsin_incident_time_to_acknowledge_seconds_count[$__range]))", "{{service}}")],
      16, 4, unit="s", desc="Mean time from opening to acknowledgement")
panel("bargauge", "MTTR by service (range)", [
    ("sum by (service) (increase(tocsin_incident_time_to_resolve_seconds_sum[$__range])) / "
     "sum by (service) (increase(tocsin_incident_time_to_resolve_seconds_count[$__range]))", "{{service}}")],
      20, 4, unit="s", desc="Mean time from an incident's onset to its resolution")
next_row()
row("Automation and ChatOps")
panel("timeseries", "Runbook runs by result", ["sum by (result) (increase(tocsin_runbook_runs_total[$__rate_interval]))"],
      0, 8, legend="{{result}}")
panel("timeseries", "Runs in progress, waiting for approval, refused", [
    ("tocsin_runbook_runs_running", "running"),
    ("tocsin_approvals_pending", "waiting for approval"),
    ("increase(tocsin_runbook_runs_refused_total[$__rate_interval])", "refused by policy")], 8, 8)
panel("timeseries", "Chat commands", [
    ("sum by (result) (increase(tocsin_chatops_commands_total[$__rate_interval]))", "{{result}}"),
    ("increase(tocsin_chatops_refused_total[$__rate_interval])", "refused (signature, token)"),
    ("tocsin_silences_active", "active silences")], 16, 8)
next_row()

dash = {
    "uid": "tocsin-overview",
    "title": "tocsin",
    "description": "tocsin: engine health, ingestion, anomalies, incidents (MTTD, MTTA, MTTR) and automation",
    "tags": ["tocsin", "aiops"],
    "timezone": "browser",
    "editable": True,
    "graphTooltip": 1,
    "schemaVersion": 39,
    "version": 1,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "timepicker": {},
    "links": [],
    "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                             "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
                             "regex": "", "options": []}]},
    "annotations": {"list": [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
         "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
         "type": "dashboard"},
        {"datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
         "iconColor": "red", "name": "tocsin incidents",
         "target": {"type": "tags", "tags": ["tocsin", "incident"], "limit": 100, "matchAny": False}}]},
    "panels": panels,
}
json.dump(dash, sys.stdout, indent=2)
sys.stdout.write("\n")
