// The dashboard in a real browser (Debian's chromium, driven by playwright-core), against real
// `spindle web` and worker processes, on SQLite and on PostgreSQL. Run by ctest (dashboard_test):
//   SPINDLE_BIN=... TEST_WORKER_BIN=... SPINDLE_TEST_DATABASE=postgresql://... \
//   SHOTS_DIR=... node --test tests/web/dashboard.test.mjs
// Screenshots of every page go to SHOTS_DIR.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import {mkdtempSync, mkdirSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const SPINDLE = process.env.SPINDLE_BIN;
const WORKER = process.env.TEST_WORKER_BIN;
const SHOTS = process.env.SHOTS_DIR || path.join(os.tmpdir(), 'spindle-dashboard-shots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(SPINDLE && WORKER, 'SPINDLE_BIN and TEST_WORKER_BIN must be set');
assert.ok(process.env.SPINDLE_TEST_DATABASE,
  'SPINDLE_TEST_DATABASE is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL');
mkdirSync(SHOTS, {recursive: true});

const VIEWER_TOKEN = 'spindle_dashboard_test_viewer';

// Polls `fn` until it returns a truthy value; fails after `ms` saying `what`.
async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) assert.fail(`timed out waiting for ${what} (last: ${last})`);
    await new Promise(r => setTimeout(r, 200));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const {port} = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

class Cluster {
  constructor(backend) { this.backend = backend; this.procs = []; }

  async start() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `spindle-dash-${this.backend}-`));
    if (this.backend === 'sqlite') {
      this.url = `sqlite:${this.dir}/dash.db`;
    } else {
      const admin = process.env.SPINDLE_TEST_DATABASE;
      const name = `dash_${randomBytes(4).toString('hex')}`;
      execFileSync('psql', [admin, '-qc', `CREATE DATABASE ${name}`]);
      const u = new URL(admin);
      u.pathname = `/${name}`;
      this.url = u.toString();
    }
    this.env = Object.assign({}, process.env, {SPINDLE_DATABASE: this.url});
    this.cli('migrate');
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    writeFileSync(`${this.dir}/web.toml`, '[http]\nstats_interval = "1s"\n');
    this.web = this.spawn(SPINDLE, ['--config', `${this.dir}/web.toml`, 'web', '--http', `127.0.0.1:${this.port}`]);
    // A second server, read-only, that asks for a token: the session a viewer gets.
    this.roPort = await freePort();
    const sha = createHash('sha256').update(VIEWER_TOKEN).digest('hex');
    writeFileSync(`${this.dir}/ro.toml`,
      `[http]\nread_only = true\n[[http.tokens]]\nname = "viewer"\nscope = "read"\nsha256 = "${sha}"\n`);
    this.spawn(SPINDLE, ['--config', `${this.dir}/ro.toml`, 'web', '--http', `127.0.0.1:${this.roPort}`]);
    await until('the servers to answer', async () =>
      (await fetch(`${this.base}/api/v1/readyz`)).ok && (await fetch(`http://127.0.0.1:${this.roPort}/api/v1/healthz`)).ok);
  }

  spawn(bin, args) {
    const p = spawn(bin, args, {env: this.env, stdio: ['ignore', 'pipe', 'pipe']});
    p.stdout.resume();
    p.stderr.resume();
    this.procs.push(p);
    return p;
  }

  worker(queue) { return this.spawn(WORKER, [this.url, '--queue', queue, '--concurrency', '8']); }

  cli(...args) { return execFileSync(SPINDLE, args, {env: this.env, encoding: 'utf8'}); }
  job(id) { return JSON.parse(this.cli('jobs', 'show', id, '--json')); }

  async api(p, opts = {}) {
    const res = await fetch(`${this.base}/api/v1${p}`, {
      method: opts.method || 'GET',
      headers: opts.body ? {'Content-Type': 'application/json'} : {},
      body: opts.body ? JSON.stringify(opts.body) : undefined,
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }
  async count(filter) { return (await this.api(`/jobs?${new URLSearchParams(Object.assign({limit: 1}, filter))}`)).count; }
  async enqueue(specs) {
    for (let i = 0; i < specs.length; i += 10000) await this.api('/jobs', {method: 'POST', body: {jobs: specs.slice(i, i + 10000)}});
  }

  // Requests answered, by route, from the server's own /metrics.
  async requests() {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    const out = {};
    for (const m of text.matchAll(/^spindle_http_requests_total\{method="GET",route="([^"]+)",status="\d+"\} (\d+)/gm)) {
      out[m[1]] = (out[m[1]] || 0) + Number(m[2]);
    }
    return out;
  }

  async stop() {
    for (const p of this.procs) p.kill('SIGTERM');
    await Promise.all(this.procs.map(p => p.exitCode !== null ? null : new Promise(r => p.on('exit', r))));
  }
}

let browser;
before(async () => { browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage']}); });
after(async () => { await browser.close(); });

// A page that records the console's errors and the page's uncaught exceptions.
async function open(url, viewport = {width: 1280, height: 900}, context) {
  const ctx = context || await browser.newContext({viewport});
  const page = await ctx.newPage();
  page.setDefaultTimeout(90000);  // a busy 2-core machine: waits are for events, bounded generously
  page.errors = [];
  page.on('console', m => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', e => page.errors.push(e.message));
  await page.goto(url);
  return page;
}

// The page's content is in (an open event stream keeps the network from ever going idle).
async function loaded(page) {
  await page.locator('main h1').waitFor();
  await page.waitForFunction(() => !document.querySelector('main').textContent.includes('Loading…'));
}

async function confirm(page) {
  await page.locator('#confirm-ok').click();
}

for (const backend of ['sqlite', 'postgresql']) {
  describe(`dashboard on ${backend}`, () => {
    const c = new Cluster(backend);
    before(async () => { await c.start(); });
    after(async () => { await c.stop(); });

    test('counts change live as a worker drains jobs', async () => {
      await c.enqueue(Array.from({length: 300}, (_, i) => ({kind: 'work', args: {i}})));
      const page = await open(`${c.base}/#/`);
      const available = page.locator('[data-queue="default"] [data-stat="available"]');
      await until('300 available on the card', async () => (await available.textContent()) === '300');
      await page.evaluate(() => { window.notReloaded = true; });
      c.worker('default');
      await until('the card to show the queue drained', async () => (await available.textContent()) === '0', 90000);
      assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
      assert.equal(await c.count({queue: 'default', state: 'completed'}), 300);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('stop, resume and retry from the UI change the job in the database', async () => {
      const runAt = new Date(Date.now() + 3600e3).toISOString();
      const {id} = await c.api('/jobs', {method: 'POST', body: {kind: 'work', run_at: runAt}});
      const page = await open(`${c.base}/#/jobs/${id}`);
      await page.locator('[data-action="stop"]').click();
      await confirm(page);
      await until('the job stopped in the database', () => c.job(id).state === 'stopped');
      await page.locator('[data-action="resume"]').click();
      await confirm(page);
      await until('the job resumed in the database', () => c.job(id).state === 'scheduled');

      const boom = await c.api('/jobs', {method: 'POST', body: {kind: 'boom', args: {n: 7}, max_attempts: 1}});
      await until('the boom job to fail', () => c.job(boom.id).state === 'failed');
      await page.goto(`${c.base}/#/jobs/${boom.id}`);
      await page.locator('[data-action="retry"]').click();
      await confirm(page);
      await until('the retried job to run again', () => c.job(boom.id).attempt >= 2);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('failures are grouped by kind and masked error', async () => {
      await c.enqueue(Array.from({length: 20}, (_, n) => ({kind: 'boom', args: {n: n * 37}, max_attempts: 1})));
      const failed = await until('21 failed boom jobs', async () => (await c.count({kind: 'boom', state: 'failed'})) === 21 && 21);
      const page = await open(`${c.base}/#/failures`);
      const rows = page.locator('tr[data-fingerprint]');
      await until('one group', async () => (await rows.count()) === 1);
      const text = await rows.first().textContent();
      assert.match(text, /order N was declined by gateway <id>/);
      assert.equal((await rows.first().locator('td').first().textContent()).trim(), String(failed));
      // Retry the group: every one of them runs again (and fails again: attempt 2).
      await rows.first().getByRole('button', {name: 'Retry'}).click();
      await confirm(page);
      const progress = page.locator('.op[role="status"]');
      await until('the group retried', async () => /21 of 21 — done/.test(await progress.textContent()));
      await until('every job of the group to run again', async () =>
        (await c.api('/jobs?kind=boom&state=failed&limit=100')).jobs.every(j => j.attempt >= 2) &&
        (await c.count({kind: 'boom', state: 'failed'})) === 21);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('a bulk retry over a filter of 10,000 failed jobs completes with progress', async () => {
      const w = c.worker('bulk');
      await c.enqueue(Array.from({length: 10000}, (_, n) => ({kind: 'boom', queue: 'bulk', args: {n}, max_attempts: 1})));
      await until('10,000 failed jobs', async () => (await c.count({queue: 'bulk', state: 'failed'})) === 10000, 300000);
      w.kill('SIGTERM');
      await new Promise(r => w.on('exit', r));
      const page = await open(`${c.base}/#/jobs?state=failed&queue=bulk`);
      await page.getByRole('button', {name: 'Retry all'}).click();
      await page.locator('#confirm[open]').waitFor();
      assert.match(await page.locator('#confirm-text').textContent(), /10,000 jobs/);
      await confirm(page);
      const progress = page.locator('.op[role="status"]');
      await progress.waitFor();
      await until('the operation to finish', async () => /10,000 of 10,000 — done/.test(await progress.textContent()), 300000);
      assert.equal(await c.count({queue: 'bulk', state: 'available'}), 10000);
      assert.equal(await c.count({queue: 'bulk', state: 'failed'}), 0);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('every page loads without console errors (screenshots)', async () => {
      const ctx = await browser.newContext({viewport: {width: 1280, height: 900}});
      const some = (await c.api('/jobs?kind=boom&limit=1')).jobs[0];
      for (const [name, hash] of [['overview', '/'], ['jobs', '/jobs'], ['job', `/jobs/${some.id}`],
        ['failures', '/failures'], ['queues', '/queues'], ['schedules', '/schedules'], ['cluster', '/cluster']]) {
        const page = await open(`${c.base}/#${hash}`, null, ctx);
        await loaded(page);
        assert.equal(await page.locator('main .error').count(), 0, `${name} shows an error`);
        if (name === 'cluster') {
          // The workers of the tests before were elected: the history tells of it.
          const terms = await page.locator('table[aria-label="Leader history"] tbody td').allTextContents();
          assert.ok(terms.some(t => /^term \d+$/.test(t)), `no election in the leader history: ${terms}`);
        }
        await page.screenshot({path: `${SHOTS}/${backend}-${name}.png`, fullPage: true});
        assert.deepEqual(page.errors, [], `console errors on ${name}`);
        await page.close();
      }
      // Dark, and a phone's width.
      const dark = await open(`${c.base}/#/`, null, ctx);
      await dark.locator('#theme').click();
      await dark.locator('[data-queue]').first().waitFor();
      await dark.screenshot({path: `${SHOTS}/${backend}-overview-dark.png`, fullPage: true});
      const phone = await open(`${c.base}/#/jobs`, {width: 390, height: 844});
      await phone.locator('main table').waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the phone-sized page scrolls sideways by ${overflow}px`);
      await phone.screenshot({path: `${SHOTS}/${backend}-jobs-phone.png`, fullPage: true});
      // "/" searches.
      await dark.keyboard.press('/');
      await dark.keyboard.type('kind:boom');
      await dark.keyboard.press('Enter');
      await until('the search to list boom jobs', async () => /#\/jobs\?q=kind%3Aboom/.test(dark.url()));
      assert.deepEqual(dark.errors.concat(phone.errors), []);
      await phone.context().close();
      await ctx.close();
    });

    test('a read-only session shows its scope and no action buttons', async () => {
      const base = `http://127.0.0.1:${c.roPort}`;
      const page = await open(`${base}/#/`);
      await page.locator('#token').fill(VIEWER_TOKEN);
      await page.getByRole('button', {name: 'Sign in'}).click();
      await until('the signed-in scope', async () => /viewer · read · read-only server/.test(await page.locator('#who').textContent()));
      const some = (await c.api('/jobs?kind=boom&state=failed&limit=1')).jobs[0]
        || (await c.api('/jobs?kind=boom&limit=1')).jobs[0];
      const actionWords = /^(retry|cancel|delete|stop|resume|wake|pause|run now|retry all|cancel all|delete all|stop the cluster)/i;
      for (const hash of ['/', '/jobs?state=failed&queue=bulk', `/jobs/${some.id}`, '/failures', '/queues', '/schedules', '/cluster']) {
        await page.goto(`${base}/#${hash}`);
        await loaded(page);
        const buttons = await page.locator('main button:visible').allTextContents();
        assert.deepEqual(buttons.filter(b => actionWords.test(b.trim())), [], `action buttons on ${hash}`);
      }
      assert.deepEqual(page.errors, []);
      await page.context().close();
    });

    test('twenty open tabs add no database reads per tab', async () => {
      // Twenty browsers: one browser opens at most six connections to a server, and each
      // visible tab's stream holds one (docs/dashboard.md).
      await c.enqueue([{kind: 'work', queue: 'tabs'}]);  // a queue card to wait for
      // All loading at once: with httplib's 5 s keep-alive, a connection the starved browser
      // opened and used a moment later was already closed, and about a third of the pages stayed
      // blank (their script failed with ERR_SOCKET_NOT_CONNECTED).
      const tabs = await Promise.all(Array.from({length: 20}, async () => {
        const p = await open(`${c.base}/#/`);
        await p.locator('[data-queue]').first().waitFor({timeout: 240000});
        return p;
      }));
      await new Promise(r => setTimeout(r, 2000));  // the tabs' first reads are answered
      const before = await c.requests();
      await new Promise(r => setTimeout(r, 12000));
      const after = await c.requests();
      // Only the in-memory series is polled (every 5 s per tab) and the one event stream per tab
      // stays open; every other route reads the database.
      const grew = Object.keys(after).filter(r => (after[r] || 0) > (before[r] || 0) &&
        r !== '/api/v1/stats/series' && r !== '/metrics');
      assert.deepEqual(grew, [], 'routes that read the database were called while 20 tabs stood open');
      assert.ok(after['/api/v1/stats/series'] - (before['/api/v1/stats/series'] || 0) >= 20, 'the tabs poll the series');
      for (const t of tabs) {
        assert.deepEqual(t.errors, []);
        await t.context().close();
      }
    });
  });
}
