/* tocsin's built-in page: a single page app over the engine's JSON API (docs/web.md).
 * Plain JavaScript, no framework, no build step. Every string from the API goes into the page
 * as text (textContent or attribute values through the DOM), never as HTML. */
'use strict';

(function () {
  const POLL_MS = 2000;
  const TOKEN_KEY = 'tocsin.token';
  const MAX_CHARTS = 8;

  // ---- DOM helpers ------------------------------------------------------------------------
  // el('div', {class: 'x', onclick: f}, 'text', node, [more], null): strings become text nodes.
  function build(node, attrs, children) {
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const SVGNS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, ...children) => build(document.createElementNS(SVGNS, tag), attrs, children);
  const $ = (id) => document.getElementById(id);

  // Chat answers use Slack's *bold* and `code`: shown as such, as text nodes.
  function chatText(s) {
    const out = [];
    const re = /\*([^*\n]+)\*|`([^`\n]+)`/g;
    let last = 0, m;
    s = String(s || '').trim();
    while ((m = re.exec(s))) {
      out.push(s.slice(last, m.index));
      out.push(m[1] !== undefined ? el('strong', null, m[1]) : el('code', null, m[2]));
      last = re.lastIndex;
    }
    out.push(s.slice(last));
    return out;
  }

  // ---- formatting -------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(ms) {
    if (!ms) return '—';
    const d = new Date(ms), now = new Date();
    const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    if (d.toDateString() === now.toDateString()) return hms;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
  }
  function fmtDur(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '—';
    ms = Math.max(0, ms);
    if (ms < 1000) return `${Math.round(ms)} ms`;
    let s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d} d ${h} h`;
    if (h) return `${h} h ${m} min`;
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  function fmtAgo(ms) {
    if (!ms) return '—';
    const dt = Date.now() - ms;
    if (dt < 0) return `in ${fmtDur(-dt)}`;
    if (dt < 5000) return 'just now';
    return `${fmtDur(dt)} ago`;
  }
  function fmtNum(v) {
    if (v === null || v === undefined || v === '') return '—';
    const n = Number(v);
    if (!isFinite(n)) return String(v);
    const a = Math.abs(n);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return n.toExponential(2);
    return String(Math.round(n * 1000) / 1000);
  }
  const when = (ms) => el('time', { datetime: ms ? new Date(ms).toISOString() : null, title: ms ? new Date(ms).toString() : null }, fmtTime(ms));
  // Relative times are kept current in place (tickTimes) instead of redrawing the page.
  const ago = (ms) => el('time', { datetime: ms ? new Date(ms).toISOString() : null, title: ms ? fmtTime(ms) : null, 'data-ago': ms || null }, fmtAgo(ms));
  const since = (ms) => el('span', { 'data-since': ms || null }, fmtDur(Date.now() - ms));
  function tickTimes() {
    for (const t of document.querySelectorAll('[data-ago]')) t.textContent = fmtAgo(Number(t.dataset.ago));
    for (const t of document.querySelectorAll('[data-since]')) t.textContent = fmtDur(Date.now() - Number(t.dataset.since));
  }
  const badge = (text, cls) => (text === null || text === undefined || text === '')
    ? el('span', { class: 'muted' }, '—')
    : el('span', { class: `badge ${String(cls || text).toLowerCase().replace(/[^a-z0-9_-]/g, '')}` }, text);
  const json = (v) => typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  function labelsText(labels) {
    const ks = Object.keys(labels || {}).sort();
    return ks.length ? `{${ks.map((k) => `${k}="${labels[k]}"`).join(', ')}}` : '';
  }

  // ---- the API ----------------------------------------------------------------------------
  async function getJSON(path) {
    const r = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const err = new Error((body && (body.message || body.text)) || `${path}: HTTP ${r.status}`);
      err.status = r.status;
      throw err;
    }
    return body;
  }
  // The data, or a marker the views show in place: a failed part does not blank the page.
  const soft = (p) => p.catch((e) => ({ failed: true, status: e.status || 0, message: e.message }));

  async function chat(text) {
    const token = localStorage.getItem(TOKEN_KEY) || '';
    const r = await fetch('/api/v1/chat', {
      method: 'POST',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ text }),
    });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    const msg = (body && (body.text || body.message)) || `HTTP ${r.status}`;
    return { ok: r.status === 200, status: r.status, text: msg };
  }

  // ---- state ------------------------------------------------------------------------------
  const state = {
    health: null,
    approvals: [],
    openIncidents: 0,
    scriptErrors: 0,
    lastOk: 0,
    down: false,
    rendered: '', // the route and data the main area shows now: unchanged data is not redrawn
    shown: '', // the route the main area shows (data read without error)
    openRuns: new Set(), // runs whose details the user opened
    closedRuns: new Set(), // runs shown open by default that the user closed
    busy: new Set(), // approvals being decided
    timer: 0,
    gen: 0,
  };

  function route() {
    let h = location.hash.replace(/^#\/?/, '');
    try { h = decodeURIComponent(h); } catch (e) { /* a malformed address: as typed */ }
    const [view, ...rest] = h.split('/');
    const id = rest.join('/');
    if (view === 'incidents' && id) return { view: 'incident', id };
    if (['incidents', 'approvals', 'runs', 'scripts'].includes(view)) return { view };
    return { view: 'incidents' };
  }

  // ---- header: health, counts, token -----------------------------------------------------
  function renderHealth(h) {
    const box = $('health');
    const items = [];
    const item = (k, v, bad) => el('div', null, el('dt', null, k), el('dd', { class: bad ? 'bad' : null }, v));
    if (!h || h.failed) {
      items.push(item('engine', 'unreachable', true));
    } else {
      items.push(item('status', h.status, h.status !== 'ok'));
      items.push(item('redis', h.redis, h.redis !== 'up'));
      items.push(item('version', h.version));
      items.push(item('uptime', fmtDur((h.uptime_s || 0) * 1000)));
      items.push(item('rules', h.rules));
      items.push(item('runbooks', h.runbooks));
      items.push(item('runs in progress', h.runs_in_progress));
    }
    box.replaceChildren(...items);
  }

  function renderChrome() {
    const r = route();
    for (const a of document.querySelectorAll('nav a')) {
      const cur = a.dataset.nav === (r.view === 'incident' ? 'incidents' : r.view);
      if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    $('n-incidents').textContent = state.openIncidents ? String(state.openIncidents) : '';
    $('n-incidents').title = state.openIncidents ? `${state.openIncidents} not resolved` : '';
    const na = $('n-approvals');
    na.textContent = state.approvals.length ? String(state.approvals.length) : '';
    na.title = state.approvals.length ? `${state.approvals.length} waiting for a decision` : '';
    na.classList.toggle('hot', state.approvals.length > 0);
    const ns = $('n-scripts');
    ns.textContent = state.scriptErrors ? `${state.scriptErrors} failed` : '';
    ns.classList.toggle('hot', state.scriptErrors > 0);
    const live = $('live');
    if (document.hidden) {
      live.className = 'live';
      live.textContent = 'paused (tab hidden)';
    } else if (state.down) {
      live.className = 'live down';
      live.textContent = state.lastOk ? `engine unreachable since ${fmtTime(state.lastOk)}, retrying` : 'engine unreachable, retrying';
    } else if (state.lastOk) {
      live.className = 'live ok';
      live.textContent = `live · updated ${fmtTime(state.lastOk)}`;
    }
  }

  function notice(text, kind) {
    const n = $('notice');
    n.className = `notice ${kind || ''}`;
    $('notice-text').replaceChildren(...chatText(text));
    n.hidden = false;
  }

  async function checkToken() {
    const who = $('who');
    const token = localStorage.getItem(TOKEN_KEY);
    $('token').value = token ? '••••••••' : '';
    $('token').dataset.saved = token ? '1' : '';
    if (!token) {
      who.className = 'who';
      who.textContent = 'no token: approvals need one';
      return;
    }
    try {
      const r = await chat('whoami');
      const m = /^(\S+) .*role \*?(\w+)\*?/.exec(r.text);
      who.className = r.ok ? 'who ok' : 'who bad';
      who.textContent = r.ok ? (m ? `${m[1]} (${m[2]})` : 'token accepted') : (r.status === 401 ? 'token refused' : r.text);
    } catch (e) {
      who.className = 'who bad';
      who.textContent = 'token not checked (engine unreachable)';
    }
  }

  // ---- views ------------------------------------------------------------------------------
  // Each view: load() -> data (a promise), render(data) -> a node. Data is compared with what
  // is shown; the node replaces the main area's content only when it changed.
  const views = {};

  function failedPanel(what, d) {
    return el('p', { class: 'empty err' }, `Could not read ${what}: ${d.message}`);
  }

  function approvalsBanner() {
    const n = state.approvals.length;
    if (!n) return null;
    return el('div', { class: 'banner', role: 'note' },
      `${n} run${n > 1 ? 's wait' : ' waits'} for a decision.`,
      el('a', { href: '#/approvals' }, 'Review approvals'));
  }

  // -- incident list
  views.incidents = {
    load: () => getJSON('/api/v1/incidents'),
    render(list) {
      list = (Array.isArray(list) ? list : []).slice().sort((a, b) => (b.opened_ms || 0) - (a.opened_ms || 0));
      const open = list.filter((i) => i.state !== 'resolved' && i.state !== 'merged').length;
      const head = el('div', { class: 'page-head' }, el('h2', null, 'Incidents'),
        el('span', { class: 'sub' }, `${list.length} in memory, ${open} not resolved · newest first`));
      if (!list.length)
        return el('div', null, head, approvalsBanner(), el('section', { class: 'panel' },
          el('p', { class: 'empty' }, 'No incidents. Anomalies and firing alerts open them.')));
      const rows = list.map((i) => {
        const top = Array.isArray(i.rca) && i.rca.length ? i.rca[0] : null;
        const svcs = Array.isArray(i.services) && i.services.length ? i.services : [i.service];
        const alerts = typeof i.alerts === 'number' ? i.alerts : (i.alert_count || (i.alerts || []).length);
        return el('tr', { 'data-incident': i.id },
          el('td', null, badge(i.severity)),
          el('td', null, el('a', { class: 'title', href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title || i.id),
            el('span', { class: 'id' }, i.id)),
          el('td', null, svcs.map((s) => el('span', { class: 'tag' }, s))),
          el('td', null, badge(i.state), i.reopened ? el('span', { class: 'muted', title: 'times reopened' }, ` ↻${i.reopened}`) : null),
          el('td', { class: 'num' }, alerts),
          el('td', null, top ? [el('b', null, top.service), el('span', { class: 'muted' }, ` ${fmtNum(top.score)}`)] : el('span', { class: 'muted' }, '—')),
          el('td', { class: 'nowrap' }, ago(i.opened_ms)));
      });
      return el('div', null, head, approvalsBanner(),
        el('section', { class: 'panel', 'aria-label': 'Incident list' },
          el('table', { id: 'incidents' },
            el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Severity'), el('th', { scope: 'col' }, 'Incident'),
              el('th', { scope: 'col' }, 'Services'), el('th', { scope: 'col' }, 'State'), el('th', { scope: 'col', class: 'num' }, 'Signals'),
              el('th', { scope: 'col' }, 'Probable cause'), el('th', { scope: 'col' }, 'Opened'))),
            el('tbody', null, rows))));
    },
  };

  // -- one incident
  const sidOf = (m) => m.fingerprint || String(m.id || '').replace(/@[^@]*$/, '');
  views.incident = {
    async load(r) {
      const inc = await getJSON(`/api/v1/incidents/${encodeURIComponent(r.id)}`);
      const members = Array.isArray(inc.alerts) ? inc.alerts : [];
      const sids = [...new Set(members.filter((m) => m.kind === 'anomaly').map(sidOf).filter(Boolean))].slice(0, MAX_CHARTS);
      const series = await Promise.all(sids.map((sid) =>
        soft(getJSON(`/api/v1/series/${encodeURIComponent(sid)}`)).then((d) => ({ sid, d }))));
      return { inc, series };
    },
    render({ inc, series }) {
      const members = Array.isArray(inc.alerts) ? inc.alerts : [];
      const svcs = Array.isArray(inc.services) && inc.services.length ? inc.services : [inc.service];
      const fact = (k, v) => el('div', null, el('dt', null, k), el('dd', null, v));
      const trans = Array.isArray(inc.transitions) ? inc.transitions : [];
      return el('div', { 'data-incident-page': inc.id },
        el('a', { class: 'back', href: '#/incidents' }, '← All incidents'),
        el('div', { class: 'page-head' }, el('h2', null, inc.title || inc.id), badge(inc.severity), badge(inc.state),
          el('span', { class: 'sub mono' }, inc.id)),
        approvalsBanner(),
        el('section', { class: 'panel', 'aria-label': 'Summary' }, el('div', { class: 'body' },
          el('dl', { class: 'facts' },
            fact('Services', svcs.map((s) => el('span', { class: 'tag' }, s))),
            fact('Started', when(inc.started_ms)),
            fact('Opened', [when(inc.opened_ms), el('span', { class: 'muted' }, ' (', ago(inc.opened_ms), ')')]),
            fact('Time to detect', fmtDur(inc.time_to_detect_ms)),
            fact('Time to acknowledge', fmtDur(inc.time_to_acknowledge_ms)),
            fact('Time to resolve', fmtDur(inc.time_to_resolve_ms)),
            fact('Signals', `${inc.alert_count !== undefined ? inc.alert_count : members.length} (${inc.active_alerts || 0} active)`),
            fact('Last signal', when(inc.last_alert_ms))),
          trans.length ? el('div', { class: 'states' }, el('span', { id: 'h-states' }, 'State changes'),
            el('ol', { class: 'steps', 'aria-labelledby': 'h-states' }, trans.map((t) => el('li', null, badge(t.state), when(t.ts))))) : null,
          inc.merged_into ? el('p', null, 'Merged into ', el('a', { href: `#/incidents/${encodeURIComponent(inc.merged_into)}` }, inc.merged_into)) : null)),
        el('section', { class: 'panel', 'aria-labelledby': 'h-charts' },
          el('h3', { id: 'h-charts' }, 'Anomalous series', el('span', { class: 'sub' }, 'value, the detector\'s expected value and band')),
          el('div', { class: 'body' }, series.length
            ? el('div', { class: 'charts' }, series.map(({ sid, d }) => chartFigure(sid, d, chartWidth(series.length))))
            : el('p', { class: 'empty' }, 'No anomaly among this incident\'s signals: nothing to chart.'))),
        el('div', { class: 'cols' },
          el('section', { class: 'panel', 'aria-labelledby': 'h-rca' }, el('h3', { id: 'h-rca' }, 'Root-cause ranking'),
            el('div', { class: 'body' }, rcaList(inc.rca))),
          el('section', { class: 'panel', 'aria-labelledby': 'h-signals' },
            el('h3', { id: 'h-signals' }, 'Correlated signals', el('span', { class: 'sub' }, `${members.length}`)),
            signalsTable(members))),
        el('section', { class: 'panel', 'aria-labelledby': 'h-timeline' }, el('h3', { id: 'h-timeline' }, 'Timeline'),
          el('div', { class: 'body' }, timelineList(inc.timeline))));
    },
  };

  function rcaList(rca) {
    if (!Array.isArray(rca) || !rca.length) return el('p', { class: 'empty' }, 'No ranking yet.');
    const max = Math.max(...rca.map((c) => Number(c.score) || 0), 1e-9);
    return el('ol', { class: 'rca' }, rca.map((c) => {
      const bar = el('span');
      bar.style.width = `${Math.max(2, Math.round(100 * (Number(c.score) || 0) / max))}%`;
      const ev = Array.isArray(c.evidence) ? c.evidence : (c.evidence ? [c.evidence] : []);
      return el('li', null,
        el('div', { class: 'head' }, el('span', { class: 'svc' }, c.service),
          el('span', { class: 'meter', role: 'img', 'aria-label': `score ${fmtNum(c.score)}` }, bar),
          el('span', { class: 'mono' }, fmtNum(c.score)),
          c.signals !== undefined ? el('span', { class: 'muted' }, `${c.signals} signal${c.signals === 1 ? '' : 's'}`) : null),
        ev.length ? el('ul', null, ev.map((e) => el('li', null, typeof e === 'string' ? e : json(e)))) : null);
    }));
  }

  function signalsTable(members) {
    if (!members.length) return el('p', { class: 'empty' }, 'No signals.');
    const rows = members.slice().sort((a, b) => (b.ts || 0) - (a.ts || 0)).map((m) =>
      el('tr', null,
        el('td', null, badge(m.kind === 'anomaly' ? 'anomaly' : 'alert', m.kind === 'anomaly' ? 'info' : 'warning')),
        el('td', null, el('b', null, m.name), el('span', { class: 'id' }, sidOf(m))),
        el('td', null, m.service), el('td', null, badge(m.severity)),
        el('td', { class: 'num' }, fmtNum(m.score)),
        el('td', { class: 'nowrap' }, when(m.ts)),
        el('td', null, m.active ? badge('firing', 'open') : badge('cleared', 'resolved'))));
    return el('table', null,
      el('thead', null, el('tr', null, ['Kind', 'Signal', 'Service', 'Severity', 'Score', 'At', 'Now'].map((t) =>
        el('th', { scope: 'col', class: t === 'Score' ? 'num' : null }, t)))),
      el('tbody', null, rows));
  }

  function timelineList(tl) {
    if (!Array.isArray(tl) || !tl.length) return el('p', { class: 'empty' }, 'No timeline entries.');
    const skip = new Set(['ts', 'event', 'incident', 'alert']);
    return el('ol', { class: 'timeline' }, tl.map((t) => {
      const fields = Object.keys(t).filter((k) => !skip.has(k) && t[k] !== '' && t[k] !== null);
      const alert = t.alert && typeof t.alert === 'object' ? t.alert : null;
      return el('li', null, el('span', { class: 'when' }, when(Number(t.ts))), el('span', null, badge(t.event, 'info')),
        el('span', { class: 'what' },
          fields.map((k) => el('span', { class: 'kv' }, el('b', null, `${k} `), typeof t[k] === 'string' ? t[k] : JSON.stringify(t[k]))),
          alert ? el('span', { class: 'kv' }, el('b', null, 'signal '), [alert.name || alert.metric, alert.service].filter(Boolean).join(' on ')) : null));
    }));
  }

  // ---- the chart: inline SVG, value line and points over the expected band ---------------
  // Drawn at about the size it is shown, so its text keeps its size: one chart takes the width,
  // more go two to a row on a wide screen.
  function chartWidth(n) {
    const avail = Math.max(360, ($('main').clientWidth || 1200) - 112);
    const cols = n > 1 && avail >= 1000 ? 2 : 1;
    return Math.floor((avail - (cols - 1) * 16) / cols);
  }

  function chartFigure(sid, d, width) {
    if (!d || d.failed)
      return el('figure', { class: 'chart', 'data-sid': sid },
        el('figcaption', null, el('b', null, sid)),
        el('p', { class: 'empty' }, d && d.status === 404 ? 'The engine keeps no chart for this series now.' : `Could not read the series: ${d ? d.message : '?'}`));
    const pts = (Array.isArray(d.points) ? d.points : []).filter((p) => Array.isArray(p) && isFinite(p[0]) && isFinite(p[1]));
    const anomalous = pts.filter((p) => p[5]).length;
    return el('figure', { class: 'chart', 'data-sid': sid },
      el('figcaption', null, el('b', null, `${d.metric || sid}${labelsText(d.labels)}`),
        el('span', { class: 'muted' }, `${pts.length} points, ${anomalous} anomalous`)),
      pts.length ? drawChart(d, pts, anomalous, width) : el('p', { class: 'empty' }, 'No points yet.'),
      el('div', { class: 'legend', 'aria-hidden': 'true' }, el('span', { class: 'l-value' }, 'value'),
        el('span', { class: 'l-expected' }, 'expected'), el('span', { class: 'l-band' }, 'expected band'),
        el('span', { class: 'l-anomalous' }, 'anomalous')));
  }

  function niceTicks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
    return out;
  }

  function drawChart(d, pts, anomalous, width) {
    const W = width || 640, H = 240, L = 56, R = 14, T = 12, B = 28;
    const num = (v) => (v === null || v === undefined || !isFinite(v) ? null : Number(v));
    const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
    let lo = Infinity, hi = -Infinity;
    for (const p of pts) for (const v of [p[1], num(p[3]), num(p[4])]) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (lo === hi) { lo -= 1; hi += 1; }
    const padY = (hi - lo) * 0.08;
    lo -= padY; hi += padY;
    const ticks = niceTicks(lo, hi, 4);
    lo = Math.min(lo, ticks[0]); hi = Math.max(hi, ticks[ticks.length - 1]);
    const x = (t) => (t1 === t0 ? L + (W - L - R) / 2 : L + (t - t0) / (t1 - t0) * (W - L - R));
    const y = (v) => T + (hi - v) / (hi - lo) * (H - T - B);
    const f = (v) => v.toFixed(1);
    // band and expected line: one piece per run of points that have them (none while warming up)
    const bands = [], expected = [];
    let run = [];
    const flush = () => {
      if (run.length) {
        const up = run.map((p) => `${f(x(p[0]))},${f(y(p[4]))}`);
        const down = run.slice().reverse().map((p) => `${f(x(p[0]))},${f(y(p[3]))}`);
        if (run.length === 1) { // a lone point: a thin vertical band
          bands.push(svg('rect', { class: 'band', x: f(x(run[0][0]) - 2), y: f(y(run[0][4])), width: 4, height: f(Math.max(1, y(run[0][3]) - y(run[0][4]))) }));
        } else {
          bands.push(svg('polygon', { class: 'band', points: up.concat(down).join(' ') }));
        }
        const ex = run.filter((p) => num(p[2]) !== null);
        if (ex.length > 1) expected.push(svg('polyline', { class: 'expected', points: ex.map((p) => `${f(x(p[0]))},${f(y(p[2]))}`).join(' ') }));
      }
      run = [];
    };
    for (const p of pts) { if (num(p[3]) !== null && num(p[4]) !== null) run.push(p); else flush(); }
    flush();
    const grid = ticks.map((v) => [
      svg('line', { class: 'grid', x1: L, x2: W - R, y1: f(y(v)), y2: f(y(v)) }),
      svg('text', { class: 'axis', x: L - 6, y: f(y(v) + 4), 'text-anchor': 'end' }, fmtNum(v))]);
    const nx = Math.min(Math.max(2, Math.floor(W / 130)), pts.length);
    const xt = [];
    for (let i = 0; i < nx; i++) {
      const t = nx === 1 ? t0 : t0 + (t1 - t0) * i / (nx - 1);
      const dd = new Date(t);
      const label = (t1 - t0) > 86400000 ? `${pad(dd.getMonth() + 1)}-${pad(dd.getDate())} ${pad(dd.getHours())}:${pad(dd.getMinutes())}`
        : `${pad(dd.getHours())}:${pad(dd.getMinutes())}:${pad(dd.getSeconds())}`;
      xt.push(svg('text', { class: 'axis', x: f(x(t)), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === nx - 1 ? 'end' : 'middle' }, label));
    }
    const showAll = pts.length <= 240;
    const dots = pts.filter((p) => showAll || p[5]).map((p) => svg('circle', {
      class: p[5] ? 'pt anomalous' : 'pt', cx: f(x(p[0])), cy: f(y(p[1])), r: p[5] ? 4.5 : 2.2 },
      svg('title', null, `${fmtTime(p[0])}  value ${fmtNum(p[1])}` +
        (num(p[2]) !== null ? `, expected ${fmtNum(p[2])}` : '') +
        (num(p[3]) !== null && num(p[4]) !== null ? ` (band ${fmtNum(p[3])} to ${fmtNum(p[4])})` : '') +
        (p[5] ? ', anomalous' : ''))));
    const name = `${d.metric || d.sid}${labelsText(d.labels)}`;
    return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${name}: ${pts.length} points, ${anomalous} anomalous` },
      svg('title', null, `${name}: ${pts.length} points, ${anomalous} anomalous`),
      grid, bands, expected,
      svg('line', { class: 'grid', x1: L, x2: W - R, y1: H - B, y2: H - B }),
      svg('polyline', { class: 'line', points: pts.map((p) => `${f(x(p[0]))},${f(y(p[1]))}`).join(' ') }),
      dots, xt);
  }

  // -- approvals
  views.approvals = {
    load: () => getJSON('/api/v1/approvals'),
    render(list) {
      list = Array.isArray(list) ? list : [];
      const hasToken = !!localStorage.getItem(TOKEN_KEY);
      const head = el('div', { class: 'page-head' }, el('h2', null, 'Pending approvals'),
        el('span', { class: 'sub' }, `${list.length} waiting`));
      if (!list.length)
        return el('div', null, head, el('section', { class: 'panel' }, el('p', { class: 'empty' }, 'Nothing waits for approval.')));
      return el('div', null, head, el('div', { class: 'approvals' }, list.map((a) => {
        const busy = state.busy.has(a.id);
        const who = Array.isArray(a.who) && a.who.length ? a.who.join(', ') : null;
        return el('article', { class: 'approval', 'data-approval': a.id, 'aria-labelledby': `apr-${a.id}` },
          el('div', null,
            el('h3', { id: `apr-${a.id}` }, a.runbook, ' ', el('span', { class: 'muted mono' }, a.id)),
            el('p', { class: 'reason' }, a.reason || '(no reason given)'),
            el('dl', { class: 'facts' },
              el('div', null, el('dt', null, 'Run'), el('dd', { class: 'mono' }, el('a', { href: '#/runs' }, a.run))),
              el('div', null, el('dt', null, 'Asked'), el('dd', null, ago(a.created_ms))),
              el('div', null, el('dt', null, 'Deadline'), el('dd', null, `${fmtTime(a.deadline_ms)} (`, ago(a.deadline_ms), ')')),
              el('div', null, el('dt', null, 'On timeout'), el('dd', null, a.on_timeout || '—')),
              who ? el('div', null, el('dt', null, 'Who may decide'), el('dd', null, who)) : null)),
          el('div', { class: 'actions' },
            el('button', { type: 'button', class: 'primary', 'data-decide': 'approve', disabled: busy, onclick: () => decide(a.id, 'approve') }, 'Approve'),
            el('button', { type: 'button', class: 'danger', 'data-decide': 'deny', disabled: busy, onclick: () => decide(a.id, 'deny') }, 'Deny')),
          hasToken ? null : el('p', { class: 'hint' }, 'Type your API token in the header first: it says who decides.'));
      })));
    },
  };

  async function decide(id, what) {
    if (!localStorage.getItem(TOKEN_KEY)) {
      notice('Set an API token first (the field in the header): the engine decides who you are from it.', 'bad');
      $('token').focus();
      return;
    }
    state.busy.add(id);
    state.rendered = '';
    refresh();
    notice(`Sending "${what} ${id}"…`, '');
    try {
      const r = await chat(`${what} ${id}`);
      const prefix = r.status === 401 ? 'Token refused: ' : r.status === 403 ? 'Denied: ' : '';
      notice(prefix + r.text, r.ok ? 'ok' : 'bad');
    } catch (e) {
      notice(`Could not reach the engine: ${e.message}`, 'bad');
    } finally {
      state.busy.delete(id);
      state.rendered = '';
      refresh();
    }
  }

  // -- runs
  views.runs = {
    load: () => getJSON('/api/runs'),
    render(list) {
      list = Array.isArray(list) ? list : [];
      const head = el('div', { class: 'page-head' }, el('h2', null, 'Runbook runs'),
        el('span', { class: 'sub' }, `the latest ${list.length}, newest first`));
      if (!list.length)
        return el('div', null, head, el('section', { class: 'panel' }, el('p', { class: 'empty' }, 'No runs yet.')));
      const cols = el('div', { class: 'runs-head', 'aria-hidden': 'true' },
        ['Status', 'Runbook', 'Run', 'Incident or origin', 'Started', 'Duration'].map((t) => el('span', null, t)));
      return el('div', null, head, approvalsBanner(), el('section', { class: 'panel', 'aria-label': 'Runs' }, cols, list.map(runDetails)));
    },
  };

  function runDetails(r) {
    const waiting = state.approvals.some((a) => a.run === r.run);
    const status = waiting && r.status === 'running' ? 'waiting' : r.status;
    const byDefault = r.status === 'failed' || waiting;
    const open = state.openRuns.has(r.run) || (byDefault && !state.closedRuns.has(r.run));
    const steps = Array.isArray(r.steps) ? r.steps : [];
    const params = r.params && typeof r.params === 'object' ? Object.keys(r.params) : [];
    const dur = r.ms !== undefined && r.ms !== null ? r.ms : (r.finished_ms ? r.finished_ms - r.started_ms : null);
    const det = el('details', { class: 'run', 'data-run': r.run, open: open },
      el('summary', null,
        el('span', { 'data-status': r.status }, badge(status, status === 'waiting' ? 'waiting' : r.status)),
        el('span', { class: 'name' }, r.runbook, r.dry_run ? el('span', { class: 'muted' }, ' (dry run)') : null),
        el('span', { class: 'mono muted' }, r.run),
        el('span', null, r.incident ? el('a', { href: `#/incidents/${encodeURIComponent(r.incident)}` }, r.incident) : el('span', { class: 'muted' }, r.origin || '')),
        el('span', { class: 'muted' }, ago(r.started_ms)),
        el('span', { class: 'num', title: 'duration' }, r.status === 'running' ? since(r.started_ms) : fmtDur(dur))),
      el('div', { class: 'detail' },
        el('dl', { class: 'facts' },
          el('div', null, el('dt', null, 'Level'), el('dd', null, r.level)),
          el('div', null, el('dt', null, 'Origin'), el('dd', null, r.origin || '—')),
          el('div', null, el('dt', null, 'Approved by'), el('dd', null, r.approved_by || '—')),
          el('div', null, el('dt', null, 'Started'), el('dd', null, when(r.started_ms))),
          el('div', null, el('dt', null, 'Finished'), el('dd', null, when(r.finished_ms)))),
        params.length ? el('div', null, el('h4', null, 'Parameters'),
          params.map((k) => el('span', { class: 'tag mono' }, `${k}=${typeof r.params[k] === 'string' ? r.params[k] : JSON.stringify(r.params[k])}`))) : null,
        el('div', null, el('h4', null, `Steps (${steps.length})`), steps.length
          ? el('table', { class: 'inner' },
            el('thead', null, el('tr', null, ['#', 'Action', 'Status', 'Time', 'Result'].map((t) => el('th', { scope: 'col', class: t === 'Time' ? 'num' : null }, t)))),
            el('tbody', null, steps.map((s, i) => el('tr', null, el('td', { class: 'muted' }, i + 1), el('td', { class: 'mono' }, s.action),
              el('td', null, badge(s.status)), el('td', { class: 'num nowrap' }, fmtDur(s.ms)),
              el('td', null, el('pre', null, s.result === undefined ? '' : json(s.result)))))))
          : el('p', { class: 'muted' }, waiting ? 'Waiting for approval before its first action.' : 'No actions yet.')),
        r.output !== undefined && r.output !== null && r.output !== '' ? el('div', null, el('h4', null, 'Output'), el('pre', { class: 'box' }, json(r.output))) : null,
        r.error ? el('div', null, el('h4', null, 'Error'), el('pre', { class: 'box err' }, json(r.error))) : null,
        r.reason ? el('div', null, el('h4', null, 'Reason'), el('p', null, r.reason)) : null));
    det.addEventListener('toggle', () => {
      if (det.open) { state.openRuns.add(r.run); state.closedRuns.delete(r.run); }
      else { state.openRuns.delete(r.run); state.closedRuns.add(r.run); }
    });
    return det;
  }

  // -- scripts
  views.scripts = {
    load: () => getJSON('/api/scripts'),
    render(list) {
      list = (Array.isArray(list) ? list : []).slice().sort((a, b) =>
        (!!b.error - !!a.error) || String(a.kind).localeCompare(String(b.kind)) || String(a.path).localeCompare(String(b.path)));
      const failed = list.filter((s) => s.error).length;
      const head = el('div', { class: 'page-head' }, el('h2', null, 'Scripts'),
        el('span', { class: 'sub' }, `${list.length} files, ${failed} with a reload error · hot-reloaded on change`));
      if (!list.length) return el('div', null, head, el('section', { class: 'panel' }, el('p', { class: 'empty' }, 'No scripts loaded.')));
      const rows = list.map((s) => {
        const base = String(s.path || '').split('/').pop();
        return el('tr', { 'data-script': s.path },
          el('td', null, badge(s.kind, 'info')),
          el('td', null, el('b', null, s.name || base), el('span', { class: 'id', title: s.path }, s.path)),
          el('td', { class: 'num' }, s.version),
          el('td', null, s.error ? badge(s.active ? 'error (old version runs)' : 'error', 'error') : badge(s.active ? 'active' : 'inactive')),
          el('td', { class: 'nowrap' }, ago(s.loaded_ms)),
          el('td', null, s.error ? [el('pre', { class: 'err' }, s.error), el('span', { class: 'muted' }, ago(s.error_ms))] : el('span', { class: 'muted' }, '—')));
      });
      return el('div', null, head, el('section', { class: 'panel' }, el('table', { id: 'scripts' },
        el('thead', null, el('tr', null, ['Kind', 'Script', 'Version', 'Status', 'Loaded', 'Last reload error'].map((t) =>
          el('th', { scope: 'col', class: t === 'Version' ? 'num' : null }, t)))),
        el('tbody', null, rows))));
    },
  };

  // ---- the poll loop ----------------------------------------------------------------------
  async function refresh() {
    clearTimeout(state.timer);
    const gen = ++state.gen;
    const r = route();
    const v = views[r.view];
    const [health, approvals, incidents, scripts, data] = await Promise.all([
      soft(getJSON('/healthz')),
      soft(getJSON('/api/v1/approvals')),
      r.view === 'incidents' ? Promise.resolve(null) : soft(getJSON('/api/v1/incidents')),
      r.view === 'scripts' ? Promise.resolve(null) : soft(getJSON('/api/scripts')),
      soft(v.load(r)),
    ]);
    if (gen !== state.gen) return; // a newer refresh started (navigation, a click): it draws
    state.health = health;
    state.down = !!health.failed;
    if (!state.down) state.lastOk = Date.now();
    if (Array.isArray(approvals)) state.approvals = approvals;
    const inc = r.view === 'incidents' ? data : incidents;
    if (Array.isArray(inc)) state.openIncidents = inc.filter((i) => i.state !== 'resolved' && i.state !== 'merged').length;
    const scr = r.view === 'scripts' ? data : scripts;
    if (Array.isArray(scr)) state.scriptErrors = scr.filter((s) => s.error).length;
    renderHealth(health);
    renderChrome();
    // Redraw the main area only when what it shows changed. A failed read keeps what is shown
    // (the header says the engine is unreachable), unless it showed another page.
    const where = JSON.stringify(r);
    const sig = JSON.stringify([r, data, state.approvals.map((a) => a.id), [...state.busy], !!localStorage.getItem(TOKEN_KEY)]);
    const main = $('main');
    if (data && data.failed) {
      if (state.shown !== where || data.status === 404) {
        main.replaceChildren(data.status === 404 && r.view === 'incident'
          ? el('div', null, el('a', { class: 'back', href: '#/incidents' }, '← All incidents'),
            el('p', { class: 'empty' }, `No incident ${r.id} in the engine's memory.`))
          : failedPanel(r.view === 'incident' ? `incident ${r.id}` : r.view, data));
        state.shown = '';
        state.rendered = '';
      }
    } else if (sig !== state.rendered) {
      main.replaceChildren(v.render(data, r));
      state.rendered = sig;
      state.shown = where;
    }
    tickTimes();
    schedule();
  }

  function schedule() {
    clearTimeout(state.timer);
    if (!document.hidden) state.timer = setTimeout(refresh, POLL_MS);
  }

  // ---- start ------------------------------------------------------------------------------
  function start() {
    window.addEventListener('hashchange', () => {
      state.rendered = '';
      refresh();
      window.scrollTo(0, 0);
      $('main').focus({ preventScroll: true });
    });
    document.addEventListener('visibilitychange', () => {
      renderChrome();
      if (document.hidden) clearTimeout(state.timer);
      else refresh();
    });
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = $('token');
      const v = input.value.trim();
      if (v && v !== '••••••••') {
        localStorage.setItem(TOKEN_KEY, v);
        notice('Token saved in this browser (localStorage).', 'ok');
      }
      input.blur();
      state.rendered = '';
      checkToken();
      refresh();
    });
    $('token').addEventListener('focus', (ev) => { if (ev.target.dataset.saved) ev.target.value = ''; });
    $('token').addEventListener('blur', (ev) => { if (!ev.target.value && ev.target.dataset.saved) ev.target.value = '••••••••'; });
    $('token-clear').addEventListener('click', () => {
      localStorage.removeItem(TOKEN_KEY);
      notice('Token forgotten.', '');
      state.rendered = '';
      checkToken();
      refresh();
    });
    $('notice-close').addEventListener('click', () => { $('notice').hidden = true; });
    let width = $('main').clientWidth, resized = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resized);
      resized = setTimeout(() => {
        if (Math.abs($('main').clientWidth - width) < 40) return;
        width = $('main').clientWidth;
        state.rendered = ''; // charts are drawn for the width
        refresh();
      }, 250);
    });
    checkToken();
    refresh();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
