// Browser test of the whole app as the instances run it: the Vite bundle
// served by real nginx with nginx/app.conf.tpl, /api proxied to the real Go
// backend, driven by Debian's Chromium through playwright-core.
//
// Run: node --test --test-reporter=spec e2e/   (from apps/frontend, after npm ci)
// Needs: go, and apt for nginx and chromium when they are missing.
// Leaves: build/e2e/screenshot.png. Everything else lives in a temp dir that
// is removed at the end; every process it starts is stopped, even on failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const frontendDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const backendDir = resolve(frontendDir, '../backend');
const templatePath = join(frontendDir, 'nginx/app.conf.tpl');
const screenshotPath = join(frontendDir, 'build/e2e/screenshot.png');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const NGINX = process.env.NGINX_PATH || '/usr/sbin/nginx';
const PLACEHOLDERS = ['api_upstream', 'listen_port', 'web_root'];
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const env = {}; // filled by before(): dirs, ports, URLs, processes, browser

// ---------------------------------------------------------------- helpers

/** Installs a Debian package when its binary is missing (apt-get update first). */
function ensureAptPackage(binary, pkg) {
  if (existsSync(binary)) return;
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : ['sudo', '-n'];
  console.log(`# ${binary} missing: installing Debian package ${pkg}`);
  for (const args of [
    ['apt-get', 'update', '-q'],
    ['apt-get', 'install', '-y', '-q', '--no-install-recommends', pkg],
  ]) {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), {
      stdio: 'inherit',
      timeout: 15 * 60_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (status ${r.status}, ${r.error ?? r.signal ?? ''})`);
  }
  if (!existsSync(binary)) throw new Error(`${pkg} installed but ${binary} is still missing`);
}

/** Runs a command to completion within timeoutMs, throwing with its output on failure. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}, ${r.error ?? r.signal ?? ''}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

function goBinary() {
  const onPath = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'go';
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('go is not installed (looked on PATH and in /usr/local/go/bin)');
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((res, rej) => srv.once('error', rej).listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

/** A child process in its own process group, with its output kept for failure reports. */
function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, output: '', exited: null };
  const keep = (chunk) => {
    proc.output = (proc.output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  proc.exit = new Promise((res) => {
    child.once('exit', (code, signal) => {
      proc.exited = { code, signal };
      res(proc.exited);
    });
    child.once('error', (err) => {
      proc.exited = { code: null, signal: null, error: err };
      res(proc.exited);
    });
  });
  started.push(proc);
  return proc;
}
const started = [];

// Last resort: if node itself exits early, take the process groups with it.
process.on('exit', () => {
  for (const p of started) if (!p.exited) killGroup(p, 'SIGKILL');
});

function killGroup(proc, signal) {
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Resolves with what promise resolves to, or 'timeout' after ms. The timer is cleared when the promise
 * wins: a pending grace timer kept the test process alive for its full 25 s after the suite was done.
 */
async function raceTimeout(promise, ms) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((res) => (timer = setTimeout(res, ms, 'timeout')))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends signal, waits up to graceMs, then SIGKILLs the process group. */
async function stop(proc, signal, graceMs) {
  if (!proc || proc.exited) return proc?.exited;
  try {
    proc.child.kill(signal);
  } catch {
    /* already gone */
  }
  const result = await raceTimeout(proc.exit, graceMs);
  if (result === 'timeout') {
    killGroup(proc, 'SIGKILL');
    await raceTimeout(proc.exit, 5_000);
    return { timedOut: true, ...proc.exited };
  }
  killGroup(proc, 'SIGKILL'); // any stragglers (nginx workers)
  return result;
}

/** Polls check() until it returns truthy, failing early if a watched process died. */
async function waitFor(what, check, { timeoutMs = 20_000, watch = [] } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    for (const p of watch) {
      if (p.exited) throw new Error(`${p.name} exited (${JSON.stringify(p.exited)}) while waiting for ${what}:\n${p.output}`);
    }
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function get(url, init = {}) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
}

/** Renders app.conf.tpl as Terraform's templatefile would, checking the placeholder contract. */
function renderTemplate(vars) {
  const tpl = readFileSync(templatePath, 'utf8');
  assert.ok(!tpl.includes('%{'), 'app.conf.tpl must not contain %{ (a templatefile directive)');
  assert.ok(!tpl.includes('$${'), 'app.conf.tpl must not contain $${ (a templatefile escape)');
  const used = [...tpl.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(used)].sort(), PLACEHOLDERS, 'placeholders in app.conf.tpl');
  return tpl.replace(/\$\{(\w+)\}/g, (_, name) => vars[name]);
}

function logTails() {
  const files = ['logs/error.log', 'logs/access.log'].map((f) => join(env.dir ?? '', f)).filter(existsSync);
  return [
    ...started.map((p) => `--- ${p.name} output (last lines) ---\n${p.output.split('\n').slice(-30).join('\n')}`),
    ...files.map((f) => `--- ${f} ---\n${readFileSync(f, 'utf8').split('\n').slice(-30).join('\n')}`),
  ].join('\n');
}

/** Wraps a test body so a failure prints what the servers said. */
function withLogs(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      console.error(logTails());
      throw err;
    }
  };
}

// ------------------------------------------------------------ set-up

before(
  withLogs(async () => {
    ensureAptPackage(NGINX, 'nginx');
    ensureAptPackage(CHROMIUM, 'chromium');

    env.dir = mkdtempSync(join(tmpdir(), 'frontend-e2e-'));
    // nginx workers run as an unprivileged user when started as root.
    chmodSync(env.dir, 0o755);
    for (const d of ['web', 'logs', 'tmp', 'chromium-profile']) mkdirSync(join(env.dir, d));
    env.webRoot = join(env.dir, 'web');

    // The bundle, built as the runner builds it (default API base: /api).
    const viteEnv = { ...process.env };
    delete viteEnv.VITE_API_URL;
    run(join(frontendDir, 'node_modules/.bin/vite'), ['build', '--outDir', env.webRoot, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: frontendDir,
      env: viteEnv,
    });
    assert.ok(existsSync(join(env.webRoot, 'index.html')), 'vite build wrote index.html');

    const backendBin = join(env.dir, 'backend');
    run(goBinary(), ['build', '-o', backendBin, '.'], { cwd: backendDir, env: { ...process.env, CGO_ENABLED: '0' } });

    env.backendPort = await freePort();
    env.nginxPort = await freePort();
    env.appURL = `http://127.0.0.1:${env.nginxPort}`;
    env.backendURL = `http://127.0.0.1:${env.backendPort}`;

    env.backend = start('backend', backendBin, [], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(env.backendPort),
        ALLOWED_ORIGINS: env.appURL,
      },
    });
    await waitFor('backend /health', async () => (await get(`${env.backendURL}/health`)).ok, { watch: [env.backend] });

    const site = renderTemplate({
      listen_port: `127.0.0.1:${env.nginxPort}`,
      web_root: env.webRoot,
      api_upstream: env.backendURL,
    });
    writeFileSync(join(env.dir, 'app.conf'), site);
    const d = env.dir;
    writeFileSync(
      join(d, 'nginx.conf'),
      `daemon off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/logs/error.log info;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log ${d}/logs/access.log;
    client_body_temp_path ${d}/tmp/client_body;
    proxy_temp_path ${d}/tmp/proxy;
    fastcgi_temp_path ${d}/tmp/fastcgi;
    uwsgi_temp_path ${d}/tmp/uwsgi;
    scgi_temp_path ${d}/tmp/scgi;
    include ${d}/app.conf;
}
`,
    );
    const nginxArgs = ['-p', d, '-c', join(d, 'nginx.conf'), '-e', join(d, 'logs/error.log')];
    run(NGINX, ['-t', '-q', ...nginxArgs], { timeoutMs: 30_000 });
    env.nginx = start('nginx', NGINX, nginxArgs);
    await waitFor('nginx to serve index.html', async () => (await get(`${env.appURL}/`)).ok, {
      watch: [env.nginx, env.backend],
    });

    env.context = await chromium.launchPersistentContext(join(d, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
      viewport: { width: 960, height: 720 },
    });
  }),
  { timeout: 20 * 60_000 },
);

after(
  async () => {
    await env.context?.close().catch(() => {});
    const nginx = await stop(env.nginx, 'SIGQUIT', 10_000);
    const backend = await stop(env.backend, 'SIGTERM', 25_000);
    env.stopped = { nginx, backend };
    if (env.dir) rmSync(env.dir, { recursive: true, force: true });
  },
  { timeout: 90_000 },
);

// ------------------------------------------------------------- tests

test('app.conf.tpl uses exactly the listen_port, web_root and api_upstream placeholders', () => {
  const out = renderTemplate({ listen_port: '80', web_root: '/srv/www', api_upstream: 'https://api.example.com' });
  assert.ok(!out.includes('${'), 'rendered config still holds a placeholder');
  assert.match(out, /listen 80;/);
  assert.match(out, /root \/srv\/www;/);
});

test(
  'nginx serves the bundle with security, cache and gzip headers and an SPA fallback',
  withLogs(async () => {
    const index = await get(`${env.appURL}/`);
    assert.equal(index.status, 200);
    const html = await index.text();
    const h = index.headers;
    assert.equal(h.get('x-content-type-options'), 'nosniff');
    assert.equal(h.get('x-frame-options'), 'DENY');
    assert.equal(h.get('referrer-policy'), 'strict-origin-when-cross-origin');
    assert.match(h.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(h.get('cache-control'), 'no-cache');

    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(script, `index.html names its script: ${html}`);
    const js = await get(env.appURL + script, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('content-encoding'), 'gzip');
    assert.equal(js.headers.get('x-content-type-options'), 'nosniff', 'security headers survive per-location caching');

    const deepLink = await get(`${env.appURL}/some/client/route`);
    assert.equal(deepLink.status, 200);
    assert.equal(await deepLink.text(), html, 'unknown paths fall back to index.html');
    assert.equal((await get(`${env.appURL}/assets/missing.js`)).status, 404, 'missing assets are 404, not index.html');
    assert.equal((await get(`${env.appURL}/.env`)).status, 403);
    assert.equal((await get(`${env.appURL}/healthz`)).status, 200);
  }),
);

test(
  'nginx proxies /api/ to the backend with the path unchanged',
  withLogs(async () => {
    const res = await get(`${env.appURL}/api/v1/items?limit=5`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { items: [] });
    const missing = await get(`${env.appURL}/api/v1/items/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'item not found' }, 'the backend answered, not nginx');
    assert.equal((await get(`${env.appURL}/api/health`)).status, 404, 'paths are not rewritten (/api/health is no route)');
  }),
);

test(
  'a person creates, sees and deletes an item in Chromium, with no console errors',
  { timeout: 120_000 },
  withLogs(async () => {
    const page = await env.context.newPage();
    page.setDefaultTimeout(15_000);
    page.setDefaultNavigationTimeout(30_000);
    const problems = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });

    await page.goto(env.appURL + '/');
    await page.getByText('No items yet').waitFor();

    const name = page.getByRole('textbox', { name: 'Name' });
    const description = page.getByRole('textbox', { name: 'Description' });
    const add = page.getByRole('button', { name: 'Add item' });

    await name.fill('Rotate the API keys');
    await description.fill('Created by the browser test');
    await add.click();
    const row = page.getByRole('listitem').filter({ hasText: 'Rotate the API keys' });
    await row.waitFor();
    const stored = await (await get(`${env.appURL}/api/v1/items`)).json();
    assert.deepEqual(
      stored.items.map((it) => [it.name, it.description]),
      [['Rotate the API keys', 'Created by the browser test']],
    );

    await page.getByRole('button', { name: 'Delete Rotate the API keys' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No items yet').waitFor();
    assert.deepEqual((await (await get(`${env.appURL}/api/v1/items`)).json()).items, []);

    // Two more, then a reload: the list comes from the API, not page state.
    for (const [n, d] of [
      ['Ship the frontend bundle', 'Uploaded to the artifacts bucket'],
      ['Refresh the instances', ''],
    ]) {
      await name.fill(n);
      await description.fill(d);
      await add.click();
      await page.getByRole('listitem').filter({ hasText: n }).waitFor();
    }
    await page.reload();
    await page.getByRole('listitem').filter({ hasText: 'Refresh the instances' }).waitFor();
    assert.equal(await page.getByRole('listitem').count(), 2);

    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    await page.close();
    assert.deepEqual(problems, [], 'the page logged errors or saw failed requests');
  }),
);

test(
  'the backend answers CORS only for the configured frontend origin, in a real browser',
  { timeout: 60_000 },
  withLogs(async () => {
    // The CSP lets the page reach api_upstream directly, so only CORS decides.
    const fetchBackend = (url) =>
      fetch(url).then(
        (r) => `status ${r.status}`,
        (e) => `failed: ${e.message}`,
      );
    const allowedPage = await env.context.newPage();
    await allowedPage.goto(env.appURL + '/');
    assert.equal(await allowedPage.evaluate(fetchBackend, `${env.backendURL}/api/v1/items`), 'status 200');
    await allowedPage.close();

    // Same server, other origin (localhost is not 127.0.0.1 to a browser).
    const refusedPage = await env.context.newPage();
    const said = [];
    refusedPage.on('console', (msg) => said.push(msg.text()));
    await refusedPage.goto(`http://localhost:${env.nginxPort}/`);
    assert.match(await refusedPage.evaluate(fetchBackend, `${env.backendURL}/api/v1/items`), /^failed:/);
    await waitFor('the browser to report the CORS refusal', () => said.some((m) => m.includes('CORS policy')), {
      timeoutMs: 5_000,
    });
    await refusedPage.close();
  }),
);

test(
  'the backend and nginx shut down cleanly',
  { timeout: 60_000 },
  withLogs(async () => {
    await env.context.close();
    env.context = null;
    const backend = await stop(env.backend, 'SIGTERM', 25_000);
    assert.deepEqual(backend, { code: 0, signal: null }, 'backend exits 0 on SIGTERM (graceful shutdown)');
    assert.match(env.backend.output, /"msg":"stopped"/);
    const nginx = await stop(env.nginx, 'SIGQUIT', 10_000);
    assert.equal(nginx.timedOut, undefined, 'nginx stopped on SIGQUIT');
  }),
);
