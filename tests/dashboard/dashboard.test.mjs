// Browser suite of the runner's operator dashboard, driven by Debian's Chromium through playwright-core.
//
// Run by the Go harness, which starts the runner's pages and API over a seeded store and passes
// what it seeded in DASHBOARD_FIXTURE (JSON):
//   (cd tests/dashboard && npm ci) && go test -tags browser -run TestBrowser ./internal/web/
// Leaves screenshots in build/dashboard-e2e/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const raw = process.env.DASHBOARD_FIXTURE;
if (!raw) throw new Error('DASHBOARD_FIXTURE is not set: run this suite through go test -tags browser ./internal/web/');
const fx = JSON.parse(raw);
const env = { errors: [] };

/** Installs Chromium from Debian when it is missing, as scripts/test-apps.sh does. */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  for (const args of [['apt-get', 'update', '-q'], ['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'chromium']]) {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (status ${r.status})`);
  }
}

async function open(path) {
  const resp = await env.page.goto(fx.url + path, { waitUntil: 'load' });
  assert.equal(resp.status(), 200, `GET ${path}`);
  const h = resp.headers();
  assert.equal(h['content-security-policy'], CSP, `CSP of ${path}`);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'same-origin');
  return resp;
}

async function shot(name) {
  await env.page.screenshot({ path: join(fx.outDir, `${name}.png`), fullPage: true });
}

/** Asserts that nothing a hostile payload carries ran, and that the page loaded nothing foreign. */
async function assertNothingRan() {
  assert.equal(await env.page.evaluate(() => typeof window.__pwned), 'undefined', 'a payload ran');
  assert.equal(await env.page.locator('main img').count(), 0, 'markup from data became an <img>');
  assert.equal(await env.page.locator('main script').count(), 0, 'markup from data became a <script>');
  const hrefs = await env.page.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') || ''));
  for (const h of hrefs) assert.ok(!/^\s*javascript:/i.test(h), `a javascript: link: ${h}`);
}

before(async () => {
  ensureChromium();
  mkdirSync(fx.outDir, { recursive: true });
  env.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  env.context = await env.browser.newContext({
    httpCredentials: { username: 'operator', password: fx.token },
    viewport: { width: 1280, height: 900 },
  });
  env.page = await env.context.newPage();
  env.page.on('pageerror', (e) => env.errors.push(`page error: ${e.message}`));
  env.page.on('console', (m) => { if (m.type() === 'error') env.errors.push(`console: ${m.text()} ${m.location().url}`); });
});

after(async () => {
  await env.context?.close();
  await env.browser?.close();
});

test('the runs list shows runs, filters them, and opens one', async () => {
  await open('/');
  const rows = env.page.locator('#runs tbody tr[data-run]');
  assert.ok((await rows.count()) >= 8, 'every seeded run is listed');
  await shot('runs');

  await env.page.fill('input[name=repo]', 'acme/web');
  await env.page.selectOption('select[name=status]', 'failed');
  await Promise.all([env.page.waitForURL(/repo=acme%2Fweb/), env.page.click('.filters button[type=submit]')]);
  assert.equal(await rows.count(), 1);
  assert.equal(await rows.first().locator('td').nth(1).textContent(), 'acme/web');
  assert.equal(await env.page.inputValue('input[name=repo]'), 'acme/web', 'the filter is kept');

  await open('/?kind=plan');
  assert.equal(await rows.count(), 1);
  await Promise.all([env.page.waitForURL(new RegExp(`/runs/${fx.planRun}$`)), rows.first().locator('a').first().click()]);
  assert.match(await env.page.textContent('h1'), new RegExp(`Run #${fx.planRun}`));
  assert.equal(await env.page.getAttribute('#pr-link', 'href'), 'https://github.com/acme/infra/pull/42');
  assert.match(await env.page.getAttribute('#commit-link', 'href'), /^https:\/\/github\.com\/acme\/infra\/commit\/[0-9a-f]{40}$/);
  await assertNothingRan();
});

test('a run shows its plan summary with replacements', async () => {
  await open(`/runs/${fx.planRun}`);
  const row = env.page.locator('#plans tr[data-env=dev]');
  assert.equal(await row.locator('.add').textContent(), '+2');
  assert.equal(await row.locator('.change').textContent(), '~1');
  assert.equal(await row.locator('.destroy').textContent(), '-1');
  assert.equal(await row.locator('.replace').textContent(), '±1');
  assert.match(await row.textContent(), /aws_sqs_queue\.jobs/);
  assert.doesNotMatch(await row.textContent(), /aws_s3_bucket\.logs/, 'a create is not a replacement');
  assert.equal(await env.page.locator('#stages > li').count(), 2, 'both stages on the timeline');
  assert.equal(await env.page.locator('#stages svg.bar rect.span').count(), 2, 'each stage has a bar');
  await shot('run-plan');
});

test('a live log shows each of 5,000 lines exactly once, in order', async () => {
  await open(`/runs/${fx.liveRun}`);
  const log = env.page.locator(`#log-${fx.liveStage}`);
  assert.equal(await log.getAttribute('data-follow'), 'true');
  await env.page.waitForFunction((id) => document.getElementById(`log-state-${id}`)?.textContent === 'following…', fx.liveStage);
  const resp = await fetch(`${fx.control}/start-log`, { method: 'POST' });
  assert.equal(resp.status, 204);
  // Part-way through, the page already shows some lines.
  await env.page.waitForFunction((id) => document.getElementById(`log-${id}`).children.length > 0, fx.liveStage, { timeout: 30_000 });
  await shot('live-log-following');
  await env.page.waitForFunction((id) => document.getElementById(`log-${id}`).dataset.ended, fx.liveStage, { timeout: 90_000 });
  const { texts, seqs } = await log.evaluate((el) => ({
    texts: [...el.children].map((c) => c.textContent),
    seqs: [...el.children].map((c) => Number(c.dataset.seq)),
  }));
  assert.equal(texts.length, fx.liveLines, 'every line once');
  for (let i = 0; i < texts.length; i++) {
    const want = `line ${String(i + 1).padStart(5, '0')} of the live log`;
    if (texts[i] !== want) assert.fail(`line ${i + 1} is ${JSON.stringify(texts[i])}, want ${JSON.stringify(want)}`);
    if (i > 0 && !(seqs[i] > seqs[i - 1])) assert.fail(`sequence numbers out of order at line ${i + 1}`);
  }
  assert.equal(await log.getAttribute('data-ended'), 'succeeded');
  assert.equal(await env.page.textContent(`li[data-stage="${fx.liveStage}"] .stage-head .status`), 'succeeded');
  await shot('live-log-ended');
});

test('an operator unlocks an environment with a reason, and the lock is gone', async () => {
  await open('/locks');
  const row = env.page.locator(`#locks tr[data-repo="${fx.lockRepo}"][data-env="${fx.lockEnv}"]`);
  assert.equal(await row.count(), 1);
  await env.page.fill('#as', 'alice');
  await env.page.dispatchEvent('#as', 'change');
  await shot('locks');
  // The reason is required: the browser refuses the form without one.
  await row.locator('button[type=submit]').click();
  assert.equal(await row.count(), 1);
  await row.locator('input[name=reason]').fill('the run was killed by the <b>OOM</b> killer');
  await Promise.all([
    env.page.waitForEvent('load', { timeout: 10_000 }),
    row.locator('button[type=submit]').click(),
  ]);
  assert.equal(await row.count(), 0, 'the lock is gone');
  assert.match(await env.page.textContent('#locks tbody'), /No environment is locked/);
  const api = await env.context.request.get(`${fx.url}/api/locks`);
  assert.deepEqual((await api.json()).locks, []);
  await shot('locks-after-unlock');
});

test('hostile branch names, commit messages, file names and plan text show literally and run nothing', async () => {
  await open(`/runs/${fx.hostileRun}`);
  const [img, script, url] = fx.payloads;
  assert.equal(await env.page.textContent('#ref'), `fix/${img}`);
  assert.equal(await env.page.textContent('#comment'), `commit message: ${script} see ${url}`);
  const files = await env.page.locator('#changed li').allTextContents();
  assert.deepEqual(files, [`environments/dev/${img}.tf`, url]);
  assert.equal(await env.page.textContent('#run-error'), `plan failed: ${script}`);
  const plan = await env.page.textContent('#plans tr[data-env=dev]');
  assert.ok(plan.includes(`aws_instance.x["${script}"]`), 'the replaced address shows literally');
  assert.ok(plan.includes(url), 'the review line shows literally');
  assert.ok((await env.page.textContent('.detail')).includes(img));
  const log = await env.page.locator('.log > div').allTextContents();
  assert.ok(log.some((l) => l.includes(script)) && log.some((l) => l.includes(url)) && log.includes(img));
  await assertNothingRan();
  await shot('hostile-run');

  for (const path of ['/', '/environments', '/approvals']) {
    await open(path);
    await assertNothingRan();
  }
  // The deployment notes carry a script too.
  await open('/environments');
  assert.ok((await env.page.textContent('main')).includes(script));
  await assertNothingRan();
});

test('environments show what is deployed and how far main is ahead', async () => {
  await open('/environments');
  const dev = env.page.locator('section.env[data-repo="acme/infra"][data-env=prod]');
  assert.match(await dev.textContent(), /sha256:/, 'the image digest');
  assert.match(await dev.locator('a.compare').getAttribute('href'), /^https:\/\/github\.com\/acme\/infra\/compare\/[0-9a-f]{40}\.\.\.[0-9a-f]{40}$/);
  assert.ok((await dev.locator('.between li').count()) >= 1, 'the runs since the deployed one');
  assert.match(await env.page.textContent('section.env[data-repo="acme/web"]'), /No push to the default branch|Up to date/);
  await shot('environments');
});

test('approvals list the waiting deploy with approve and reject', async () => {
  await open('/approvals');
  const row = env.page.locator('#waiting tr[data-env=prod]');
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('form.act').count(), 2);
  assert.equal(await row.locator('form.act').first().isVisible(), true, 'the script shows the buttons');
  await shot('approvals');
});

test('no script error on any page', () => {
  assert.deepEqual(env.errors, []);
});
