// The browser test of tocsin's built-in page (run by tests/integration/test_web.sh).
// Headless Debian Chromium driven by playwright-core. Environment:
//   TN_URL        the engine, e.g. http://127.0.0.1:8080
//   TN_INCIDENT   an incident made of anomalies         TN_APPROVAL  a pending approval
//   TN_RUN        the run waiting for it                TN_TOKEN     an operator's API token
//   TN_SCREENSHOT where to save a PNG                   CHROMIUM     the browser (/usr/bin/chromium)
// Each step prints "ok - ..." or fails with what it expected and what the page showed.
import { chromium } from 'playwright-core';

const env = (k, d) => process.env[k] || d || (() => { throw new Error(`${k} is not set`); })();
const URL = env('TN_URL'), INC = env('TN_INCIDENT'), APR = env('TN_APPROVAL'), RUN = env('TN_RUN');
const TOKEN = env('TN_TOKEN'), SHOT = env('TN_SCREENSHOT', `${process.env.TN_BUILD_DIR || '/tmp'}/web-ui.png`);
const STEP_MS = 15000;

let step = '', n = 0;
async function check(what, fn) {
  step = what;
  await fn();
  n++;
  console.log(`ok - ${what}`);
}

const problems = [];
const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  // root (CI) cannot use Chromium's sandbox
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 1000 }, deviceScaleFactor: 1 });
const page = await context.newPage();
page.setDefaultTimeout(STEP_MS);
// The wrong-token step makes the engine answer 401 on purpose; any other error is a problem.
page.on('console', (m) => {
  if (m.type() === 'error' && !(step.startsWith('a wrong token') && /status of 401/.test(m.text())))
    problems.push(`console: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
const external = [];
page.on('request', (r) => { if (!r.url().startsWith(URL)) external.push(r.url()); });

try {
  await check('the page loads from / (redirected to /ui/) with the engine health in its header', async () => {
    const resp = await page.goto(`${URL}/`);
    if (!resp.ok()) throw new Error(`GET / -> ${resp.status()}`);
    if (!page.url().endsWith('/ui/')) throw new Error(`landed on ${page.url()}, not /ui/`);
    await page.locator('#health dd', { hasText: 'up' }).first().waitFor();
    await page.locator('#live.ok').waitFor();
  });

  await check(`the incident list shows ${INC} with its state and severity badges`, async () => {
    const row = page.locator(`#incidents tr[data-incident="${INC}"]`);
    await row.waitFor();
    const text = await row.innerText();
    for (const want of ['critical', 'open', 'checkout']) {
      if (!text.includes(want)) throw new Error(`the row says "${text}", without "${want}"`);
    }
    if (await row.locator('.badge.critical').count() !== 1 || await row.locator('.badge.open').count() !== 1)
      throw new Error('no severity or state badge');
  });

  await check('opening it shows its RCA ranking, signals and timeline', async () => {
    await page.locator(`#incidents tr[data-incident="${INC}"] a.title`).click();
    await page.waitForURL(`**/ui/#/incidents/${INC}`);
    await page.locator(`[data-incident-page="${INC}"]`).waitFor();
    await page.locator('.rca li .svc', { hasText: 'checkout' }).first().waitFor();
    await page.locator('.rca li ul li').first().waitFor(); // evidence
    await page.locator('section[aria-labelledby="h-signals"] tbody tr').first().waitFor();
    await page.locator('.timeline li', { hasText: 'opened' }).first().waitFor();
  });

  await check('... and a chart of its anomalous series: an SVG with the expected band and points', async () => {
    const chart = page.locator('figure.chart svg.chart').first();
    await chart.waitFor();
    const band = await chart.locator('.band').count();
    const pts = await chart.locator('circle.pt').count();
    const bad = await chart.locator('circle.pt.anomalous').count();
    const line = await chart.locator('polyline.line').count();
    if (!band || pts < 10 || !bad || !line)
      throw new Error(`the chart has ${band} band(s), ${pts} points, ${bad} anomalous, ${line} line(s)`);
    const box = await chart.boundingBox();
    if (!box || box.width < 300 || box.height < 100) throw new Error(`the chart is ${JSON.stringify(box)}`);
  });
  await page.screenshot({ path: SHOT.replace(/\.png$/, '-incident.png'), fullPage: true });

  await check('the page stays put while it polls: same scroll position, no redraw of unchanged data', async () => {
    await page.evaluate(() => window.scrollTo(0, 200));
    const y0 = await page.evaluate(() => window.scrollY);
    const marker = await page.evaluate(() => { const n = document.querySelector('[data-incident-page]'); n.dataset.mark = '1'; return true; });
    await page.waitForTimeout(4500); // two polls
    const y1 = await page.evaluate(() => window.scrollY);
    const same = await page.evaluate(() => !!document.querySelector('[data-incident-page][data-mark="1"]'));
    if (!marker || y0 !== y1) throw new Error(`scrolled from ${y0} to ${y1}`);
    if (!same) throw new Error('the incident page was redrawn although nothing changed');
  });

  await check('polling pauses while the tab is hidden and resumes at once when it shows', async () => {
    let polls = 0;
    const count = (r) => { if (r.url().includes('/healthz')) polls++; };
    page.on('request', count);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.locator('#live', { hasText: 'paused' }).waitFor();
    polls = 0;
    await page.waitForTimeout(4500);
    const hiddenPolls = polls;
    const next = page.waitForRequest((r) => r.url().includes('/healthz'), { timeout: 1500 });
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await next;
    page.off('request', count);
    if (hiddenPolls) throw new Error(`${hiddenPolls} polls while hidden`);
    await page.locator('#live.ok').waitFor();
  });

  await check(`the pending approval ${APR} is listed with Approve and Deny buttons`, async () => {
    await page.locator('nav a[data-nav="approvals"]').click();
    const card = page.locator(`[data-approval="${APR}"]`);
    await card.waitFor();
    const text = await card.innerText();
    if (!text.includes('restart checkout? <img src=x onerror="window.pwned=1">') || !text.includes(RUN))
      throw new Error(`the card says "${text}" (the reason's markup should show as text)`);
    if (await card.locator('img').count()) throw new Error('the reason became an <img> element');
    await card.getByRole('button', { name: 'Approve' }).waitFor();
    await card.getByRole('button', { name: 'Deny' }).waitFor();
    const count = await page.locator('#n-approvals').innerText();
    if (count.trim() !== '1') throw new Error(`the nav counts "${count}" approvals`);
  });

  await check('Approve without a token asks for one and sends nothing', async () => {
    await page.locator(`[data-approval="${APR}"]`).getByRole('button', { name: 'Approve' }).click();
    await page.locator('#notice.bad', { hasText: 'API token' }).waitFor();
    await page.locator(`[data-approval="${APR}"]`).waitFor(); // still pending
  });

  await check('a wrong token is refused by the engine', async () => {
    await page.locator('#token').fill('not-a-token');
    await page.locator('#token-save').click();
    await page.locator('#who.bad', { hasText: 'refused' }).waitFor();
  });

  await check('the operator types the token once; it is kept in localStorage and names its user', async () => {
    await page.locator('#token').fill(TOKEN);
    await page.locator('#token-save').click();
    await page.locator('#who.ok', { hasText: 'alice (operator)' }).waitFor();
    const kept = await page.evaluate(() => localStorage.getItem('tocsin.token'));
    if (kept !== TOKEN) throw new Error(`localStorage holds ${JSON.stringify(kept)}`);
  });

  await check('Approve posts "approve ID" to /api/v1/chat with the token and shows the answer', async () => {
    const req = page.waitForRequest((r) => r.url().endsWith('/api/v1/chat') && r.method() === 'POST' &&
      (r.postData() || '').includes(`approve ${APR}`));
    await page.locator(`[data-approval="${APR}"]`).getByRole('button', { name: 'Approve' }).click();
    const r = await req;
    if (r.headers()['authorization'] !== `Bearer ${TOKEN}`) throw new Error(`Authorization: ${r.headers()['authorization']}`);
    const body = JSON.parse(r.postData());
    if (body.text !== `approve ${APR}`) throw new Error(`the body is ${r.postData()}`);
    // the notice said "Token saved" a moment ago: wait for the engine's answer in it
    try {
      await page.locator('#notice.ok', { hasText: /approved/i }).waitFor();
    } catch (e) {
      throw new Error(`the answer shown is "${await page.locator('#notice-text').innerText()}"`);
    }
    await page.locator(`[data-approval="${APR}"]`).waitFor({ state: 'detached' });
  });

  await check(`the runs view shows ${RUN} finished ok, with its steps and output`, async () => {
    await page.locator('nav a[data-nav="runs"]').click();
    const run = page.locator(`details.run[data-run="${RUN}"]`);
    await run.waitFor();
    await run.locator('[data-status="ok"]').waitFor();
    await run.locator('summary').click();
    await run.locator('td.mono', { hasText: 'approval.ask' }).waitFor();
    await run.locator('pre.box', { hasText: 'restarted checkout' }).waitFor();
    await page.locator('details.run[data-run] [data-status="ok"]', { hasText: 'ok' }).first().waitFor();
  });

  await check('the runs view keeps an opened run open across polls', async () => {
    await page.waitForTimeout(2500);
    if (!(await page.locator(`details.run[data-run="${RUN}"]`).evaluate((d) => d.open)))
      throw new Error('the run closed itself');
  });
  await page.screenshot({ path: SHOT, fullPage: true });

  await check('the scripts view lists the loaded scripts with their versions', async () => {
    await page.locator('nav a[data-nav="scripts"]').click();
    await page.locator('#scripts tr[data-script$="/restart.lua"]').waitFor();
    const rows = await page.locator('#scripts tbody tr').count();
    if (rows < 3) throw new Error(`${rows} scripts listed`);
  });

  await check('strings from the API are shown as text, not HTML', async () => {
    const injected = await page.evaluate(() => document.querySelectorAll('main script, main img, main iframe').length);
    if (injected) throw new Error(`${injected} elements that the page never makes`);
    if (await page.evaluate(() => window.pwned)) throw new Error('markup from the API ran');
  });

  await check('nothing was fetched from another origin, and no script error happened', async () => {
    if (external.length) throw new Error(`requests elsewhere: ${external.join(', ')}`);
    if (problems.length) throw new Error(problems.join('\n'));
  });
  console.log(`# screenshot: ${SHOT}`);
  console.log(`${n} passed, 0 failed`);
} catch (e) {
  const msg = String(e.message || e).replace(/\x1b\[[0-9;]*m/g, ''); // playwright's colours
  console.log(`not ok - ${step}\n#   ${msg.split('\n').join('\n#   ')}`);
  const fail = SHOT.replace(/\.png$/, '-failed.png');
  await page.screenshot({ path: fail, fullPage: true }).catch(() => {});
  console.log(`# the page at the failure: ${fail} (${page.url()})`);
  if (problems.length) console.log(`# ${problems.join('\n# ')}`);
  console.log(`${n} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
