-- tocsin configuration: every key with its value.
-- Any key can also be given on the command line: --KEY=VALUE.
return {
  -- Directory for the engine's own data (the embedded redis-server lives here).
  ["data_dir"] = "var/tocsin",
  -- Least severe log level printed: debug, info, warn or error.
  ["log_level"] = "info",
  -- This engine's consumer name in the Redis consumer groups.
  ["engine_name"] = "tocsin-1",
  -- Address the HTTP server binds to.
  ["http.listen"] = "127.0.0.1",
  -- TCP port of the HTTP server (0 picks a free port and logs it).
  ["http.port"] = 8080,
  -- Largest accepted request body; larger bodies get 413.
  ["http.max_body_bytes"] = 8388608,
  -- Largest accepted request line plus headers; more gets 431.
  ["http.max_header_bytes"] = 16384,
  -- Time allowed from the first byte of a request to its last; slower clients get 408.
  ["http.read_timeout_ms"] = 10000,
  -- Idle keep-alive connections are closed after this long.
  ["http.keepalive_timeout_ms"] = 30000,
  -- On SIGTERM/SIGINT, requests already being read or answered get this long to finish (no new connections meanwhile; a second signal stops at once); 0: close them at once.
  ["http.shutdown_grace_ms"] = 10000,
  -- Most simultaneous client connections.
  ["http.max_connections"] = 1024,
  -- redis://host:port[/db] or unix:/path.sock. Empty: start an embedded redis-server under data_dir.
  ["redis.url"] = "",
  -- The redis-server program used for the embedded default.
  ["redis.server_bin"] = "redis-server",
  -- Deadline for connecting to Redis.
  ["redis.connect_timeout_ms"] = 2000,
  -- Deadline for one Redis command; a late reply drops and re-opens the connection.
  ["redis.command_timeout_ms"] = 5000,
  -- Prefix of every Redis key the engine writes.
  ["streams.prefix"] = "tocsin",
  -- Approximate length cap (XADD MAXLEN ~) of each stream.
  ["streams.maxlen"] = 1000000,
  -- Entries read from a stream per XREADGROUP.
  ["streams.read_batch"] = 512,
  -- How long one XREADGROUP waits for new entries.
  ["streams.read_block_ms"] = 1000,
  -- Partitions of the sample, log and span streams (each a Redis Cluster hash tag {p}).
  ["streams.partitions"] = 4,
  -- Samples packed into one stream entry (1: one entry per sample).
  ["streams.batch_max"] = 256,
  -- Records accepted but not yet confirmed by Redis before inputs answer 429 (TCP: stop reading).
  ["ingest.max_inflight"] = 1000000,
  -- Most records in one request.
  ["ingest.max_records"] = 1000000,
  -- Largest body after gzip decoding (a bigger one gets 413).
  ["ingest.max_decoded_bytes"] = 67108864,
  -- FROM=TO label renames at ingestion (in the Lua file also a table { ["cloud.region"] = "region" }), looked up before the built-in ones (service.name=service, host.name=host, k8s.pod.name=pod, ...: docs/ingestion.md).
  ["ingest.label_aliases"] = {},
  -- Request bodies of 32 KiB or more decoded and parsed at once on worker threads (more, and all while Redis is 4096+ commands behind, are parsed on the event loop); 0: all on the event loop.
  ["ingest.parse_threads"] = 2,
  -- host:port of the Influx line protocol TCP listener (empty: off).
  ["ingest.influx_tcp"] = "",
  -- An Influx TCP connection that sends nothing this long is closed.
  ["ingest.influx_tcp_idle_ms"] = 300000,
  -- Influx TCP connections beyond this many are closed at once.
  ["ingest.influx_tcp_max_conns"] = 1024,
  -- Prometheus endpoints scraped every scrape_interval_ms (http:// URLs).
  ["ingest.scrape_targets"] = {},
  -- Scrape interval.
  ["ingest.scrape_interval_ms"] = 15000,
  -- A scrape not answered in full this soon fails (up = 0); at most the interval.
  ["ingest.scrape_timeout_ms"] = 10000,
  -- A scrape answer larger than this fails (up = 0).
  ["ingest.scrape_max_bytes"] = 67108864,
  -- Read the Redis-fed input streams <prefix>:in:samples, :in:events and :in:raw.
  ["ingest.redis_fed"] = true,
  -- CMDB-style JSON file of services and dependencies (empty: learn from traces only).
  ["topology.file"] = "",
  -- Age of raw samples, logs and spans kept (default 15 days).
  ["retention.hot_s"] = 1296000,
  -- Age of 5-minute rollups kept (default 90 days).
  ["retention.warm_s"] = 7776000,
  -- Age of 1-hour rollups kept (default 1 year).
  ["retention.cold_s"] = 31536000,
  -- Read the sample streams and score them here. false makes an ingest-only engine: inputs write to the streams, and other engines sharing the Redis and streams.prefix score them.
  ["detect.enabled"] = true,
  -- Mine log templates and score span latency and errors (the logs and spans streams).
  ["detect.logs_traces"] = true,
  -- Interval of log template rates and of span statistics per service and call edge.
  ["detect.interval_ms"] = 60000,
  -- Score the series that share one label set together (isolation forest and Mahalanobis distance over their rows).
  ["detect.entities"] = true,
  -- Most entities scored together (each holds a forest of about 200 KB).
  ["detect.entities_max"] = 100,
  -- Detection defaults: samples in the rolling windows (z-score, MAD, IQR).
  ["detect.zscore.window"] = 60,
  -- Detection defaults: combined |z| at or above this opens an anomaly.
  ["detect.zscore.threshold"] = 4,
  -- Detection defaults: no verdict before this many samples of a series (warm-up).
  ["detect.zscore.min_samples"] = 20,
  -- An incident with no new alert for this long is resolved by tocsin (0: never).
  ["correlate.auto_resolve_s"] = 900,
  -- An incident whose alerts have all resolved, with nothing new for this long, is resolved (0: only correlate.auto_resolve_s resolves).
  ["correlate.clear_s"] = 300,
  -- An alert this soon after its incident was resolved reopens it (flap suppression).
  ["correlate.reopen_window_s"] = 600,
  -- Directory of correlation rules (*.lua).
  ["scripts.rules_dir"] = "rules",
  -- Directory of runbooks (*.lua).
  ["scripts.runbooks_dir"] = "runbooks",
  -- Directory of detection policies (*.lua): which detectors score which series.
  ["scripts.detection_dir"] = "rules/detection",
  -- Directory of the Lua library scripts require (tocsin/*.lua).
  ["scripts.lib_dir"] = "lua",
  -- Memory ceiling of one script state, in bytes.
  ["scripts.memory_limit"] = 67108864,
  -- Instructions one rule callback may run before it is stopped.
  ["scripts.instruction_limit"] = 10000000,
  -- Programs runbooks may run with exec (absolute paths or names on PATH).
  ["scripts.exec_allow"] = {},
  -- URL that gets a JSON POST when a script fails to (re)load (empty: log only).
  ["scripts.error_webhook"] = "",
  -- Directory of ChatOps commands (*.lua, chatops.command{...}).
  ["scripts.commands_dir"] = "chatops",
  -- The highest runbook level (1 enrich, 2 diagnose, 3 remediate, 4 prevent) that runs without a human: a higher one started by a rule is refused (audited); a person starts it with approved_by (POST /api/v1/runs).
  ["automate.max_level"] = 2,
  -- Every runbook run is a dry run: each action is logged and audited, none performed.
  ["automate.dry_run"] = false,
  -- Runs kept in memory for GET /api/runs and tocsin runs (the audit stream keeps them all).
  ["automate.keep_runs"] = 200,
  -- Default webhook that runbooks post notifications to (empty: none).
  ["notify.webhook_url"] = "",
  -- Deadline of one outbound HTTP call.
  ["notify.timeout_ms"] = 10000,
  -- Series whose latest points (value and expected band) are kept for charts (GET /api/v1/series/SID, the web page); once full, anomalous series take the place of the others. 0: no charts.
  ["web.chart_series"] = 1000,
  -- Points kept per charted series.
  ["web.chart_points"] = 240,
  -- Grafana's base URL (e.g. http://grafana:3000): incidents opening and resolving are posted there as annotations (empty: none).
  ["grafana.url"] = "",
  -- A Grafana service account token (Editor) for the annotations API (sent as Bearer).
  ["grafana.token"] = "",
  -- Put the annotations on this dashboard only (empty: organization-wide annotations).
  ["grafana.dashboard_uid"] = "",
  -- Tags on every annotation (the incident's service, severity and state are added).
  ["grafana.tags"] = { "tocsin" },
  -- Export each series' latest anomaly score in /metrics (tocsin_anomaly_score), up to metrics.anomaly_series_max series: opt-in, it is one time series per series.
  ["metrics.anomaly_scores"] = false,
  -- The most series tocsin_anomaly_score exports (the highest scores first).
  ["metrics.anomaly_series_max"] = 500,
  -- The Slack app's signing secret: requests to /chatops/slack/* must be signed with it (empty: Slack requests are refused).
  ["chatops.slack.signing_secret"] = "",
  -- A Slack request whose timestamp is further than this from now is refused (replays).
  ["chatops.slack.max_skew_s"] = 300,
  -- Tokens of the Mattermost slash commands and outgoing webhooks that may call tocsin (empty: Mattermost requests are refused).
  ["chatops.mattermost.tokens"] = {},
  -- USER=TOKEN pairs for POST /api/v1/chat and `tocsin chat` (in the Lua file also a table { alice = "token" }); empty: the chat API is refused.
  ["chatops.api_tokens"] = {},
  -- USER=ROLE pairs (user name or id; roles viewer, responder, operator, admin).
  ["chatops.users"] = {},
  -- CHANNEL=ROLE pairs (channel name or id): everyone there has at least this role.
  ["chatops.channels"] = {},
  -- The role of a user and channel not listed (viewer, responder, operator, admin, or none).
  ["chatops.default_role"] = "viewer",
  -- COMMAND=ROLE pairs overriding the role a command needs (e.g. silence=operator).
  ["chatops.command_roles"] = {},
  -- LEVEL=ROLE pairs: the role needed to run, and to approve, a runbook of each level (a dry run needs responder).
  ["chatops.level_roles"] = { "1=responder", "2=responder", "3=operator", "4=admin" },
  -- A slash command not answered within this long is answered "working on it" and its result sent later to the response_url (Slack allows 3 s).
  ["chatops.reply_timeout_ms"] = 2500,
  -- A command written in Lua is stopped after this long.
  ["chatops.command_timeout_s"] = 60,
}
