-- Which detectors score which series (docs/detection.md, "Choosing detectors per metric").
-- Rules are tried in order, the first whose metric glob and labels match wins; series that no
-- rule matches use `defaults` (here: every detector, as the detect.* settings configure them).
-- Edit while the engine runs: a good edit is applied at once, a broken one is refused and the
-- previous policy stays (GET /api/scripts shows why).
return {
  name = "default",
  description = "Robust detectors for latencies, seasonal baselines for traffic",
  policies = {
    -- latencies are skewed and spiky: robust and forecasting detectors, two must agree
    {
      name = "latency",
      metric = "*latency*",
      detectors = { "mad", "ewma", "ar", "zscore", "flat" },
      agree = 2,
    },
    -- request and order counts follow the clock: compare with the same time yesterday and
    -- last week, and forecast with Holt-Winters
    {
      name = "traffic",
      metric = "*_requests*",
      detectors = { "seasonal", "holtwinters", "ewma", "mad" },
      seasons = { "1d", "7d" },
    },
  },
}
