// run.mjs - the web UIs in headless Chromium, against a real master
// (with the launcher test plugin, marathon.so and chronos.so, each of
// these two on a port of its own), a real agent and real tasks.
//
//   AGORA_BUILD_DIR=build node tests/ui/run.mjs [out_dir]
//   AGORA_UI_ONLY=marathon ...   only the checks whose names start so
//
// The master's UI is checked here, Marathon's in marathon.mjs and
// Chronos' in chronos.mjs.
//
// For the master: checks that the overview's figures equal /master/state's and
// /metrics/snapshot's, that the agents list and an agent's page show the
// agent and its task, that the tasks list shows the tasks and filters by
// state and by search, that a task's page shows its status history, and
// that the sandbox view shows the task's stdout (a line it echoed) and
// stderr. Every page's screenshot goes to out_dir (default
// <build>/ui-tests); a page that logs an error (a CSP violation, a
// failed request, an exception) fails. Prints "N passed, N failed" and
// exits non-zero on any failure. Debian's chromium, driven by
// playwright-core (tests/ui/node_modules, installed by scripts/setup).

import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

import {chronosChecks} from './chronos.mjs';
import {marathonChecks} from './marathon.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BUILD = path.resolve(process.env.AGORA_BUILD_DIR || path.join(REPO, 'build'));
const OUT = path.resolve(process.argv[2] || path.join(BUILD, 'ui-tests'));
const SLOW = (process.env.AGORA_SANITIZE || '').toUpperCase() === 'ON' ? 3 : 1;
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LINE = `ui-test-line-${process.pid}`;
const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'LeakSanitizer', 'runtime error:'];

const sleep = ms => new Promise(r => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(fn, what, ms = 10000 * SLOW) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(100);
  }
}

// One daemon, its output in dir/<name>.log.
function daemon(dir, name, argv) {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const p = spawn(argv[0], argv.slice(1), {stdio: ['ignore', log, log]});
  p.exited = new Promise(r => p.on('exit', (code, sig) => r({code, sig})));
  return p;
}

async function stop(p, ms = 15000 * SLOW) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), ms);
  const how = await p.exited;
  clearTimeout(t);
  return how;
}

class Cluster {
  async start(dir) {
    this.dir = dir;
    fs.rmSync(dir, {recursive: true, force: true});
    for (const d of ['conf', 'config', 'agent-config']) fs.mkdirSync(path.join(dir, d), {recursive: true});
    fs.writeFileSync(path.join(dir, 'conf', 'launcher.conf'),
      `plugin = ${path.join(BUILD, 'tests', 'plugins', 'launcher.so')}\n`);
    // marathon.so and chronos.so from the build, each on a port of its own.
    this.marathonPort = await freePort();
    this.marathon = `http://127.0.0.1:${this.marathonPort}`;
    fs.writeFileSync(path.join(dir, 'conf', 'marathon.conf'),
      `plugin = marathon.so\nport = ${this.marathonPort}\n`);
    this.chronosPort = await freePort();
    this.chronos = `http://127.0.0.1:${this.chronosPort}`;
    fs.writeFileSync(path.join(dir, 'conf', 'chronos.conf'),
      `plugin = chronos.so\nport = ${this.chronosPort}\n`);
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.master = daemon(dir, 'master', [path.join(BUILD, 'bin', 'agora-master'),
      '--ip=127.0.0.1', `--port=${this.port}`, `--work_dir=${dir}/master`,
      `--conf_dir=${dir}/conf`, `--plugin_dir=${BUILD}/lib/agora/plugins`,
      `--config_dir=${dir}/config`]);
    await waitFor(async () => (await fetch(this.base + '/health')).ok, 'the master');
    for (const p of [this.marathon, this.chronos]) {
      await waitFor(async () => (await fetch(p + '/ping')).ok, p);
    }
    const agentPort = await freePort();
    this.agent = daemon(dir, 'agent', [path.join(BUILD, 'bin', 'agora-agent'),
      `--master=127.0.0.1:${this.port}`, '--ip=127.0.0.1', `--port=${agentPort}`,
      `--work_dir=${dir}/agent`, '--hostname=127.0.0.1', '--isolation=posix',
      '--resources=cpus:4;mem:4096;disk:10000;ports:[31000-31010]',
      '--attributes=rack:r1;zone:a', `--config_dir=${dir}/agent-config`]);
    this.agentId = await waitFor(async () => {
      const s = await this.json('/master/slaves');
      return s.slaves.length === 1 && s.slaves[0].active ? s.slaves[0].id : null;
    }, 'the agent to subscribe');
  }

  async json(p, base = this.base) {
    const r = await fetch(base + p);
    if (!r.ok) throw new Error(`${p}: ${r.status}`);
    return r.json();
  }

  async launch(id, command, state) {
    const r = await fetch(this.base + '/launcher/launch', {method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({agent_id: this.agentId, tasks: [{task_id: id, name: id, command,
        resources: 'cpus:0.5;mem:64'}]})});
    if (r.status !== 202) throw new Error(`launch ${id}: ${r.status} ${await r.text()}`);
    await waitFor(async () => (await this.task(id))?.state === state, `${id} to be ${state}`);
  }

  async task(id) {
    const t = await this.json('/master/tasks?task_id=' + encodeURIComponent(id));
    return t.tasks[0];
  }

  async stop() {
    // Tasks outlive their agent by design: kill them through the master.
    if (this.agent && this.agent.exitCode === null) {
      for (const id of this.live || []) {
        await fetch(this.base + '/launcher/kill/' + id, {method: 'POST'}).catch(() => {});
      }
      for (const id of this.live || []) {
        await waitFor(async () => (await this.task(id))?.state === 'TASK_KILLED', `${id} killed`)
          .catch(e => console.error(e.message));
      }
      await stop(this.agent);
    }
    // A clean stop is exit 0 (SIGTERM is handled): anything else failed.
    if (this.master) this.masterExit = await stop(this.master);
  }

  // What a sanitized build reported, in either daemon's log.
  sanitizerReports() {
    const found = [];
    for (const name of ['master', 'agent']) {
      const file = path.join(this.dir, `${name}.log`);
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      for (const mark of SANITIZER_MARKS) if (text.includes(mark)) found.push(`${name}: ${mark}`);
    }
    return found;
  }
}

// ---- the checks ----

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function near(a, b) {
  return Math.abs(Number(a) - Number(b)) < 1e-9;
}

async function shot(page, name) {
  await page.screenshot({path: path.join(OUT, `${name}.png`), fullPage: true});
}

async function values(page, sel, attr = 'data-value') {
  return page.$$eval(sel, (els, a) => els.map(e => e.getAttribute(a)), attr);
}

const checks = {
  async overview(page, c) {
    await page.goto(c.base + '/');
    await page.waitForSelector('[data-figure="cpus_total"]');
    await page.waitForFunction(() => document.querySelector('[data-plugin="launcher"]'));
    // Wait for a poll that saw both tasks; then compare with the API's.
    await page.waitForFunction(() => document.querySelector('[data-tasks="TASK_FINISHED"]')?.textContent === '1');
    const state = await c.json('/master/state');
    const m = await c.json('/metrics/snapshot');
    for (const r of ['cpus', 'mem', 'disk']) {
      for (const k of ['used', 'total']) {
        const [v] = await values(page, `[data-figure="${r}_${k}"]`);
        assert(near(v, m[`master/${r}_${k}`]), `${r}_${k}: page ${v}, API ${m[`master/${r}_${k}`]}`);
      }
    }
    for (const k of ['slaves_active', 'slaves_unreachable']) {
      const [v] = await values(page, `[data-figure="${k}"]`);
      assert(near(v, m[`master/${k}`]), `${k}: page ${v}, API ${m[`master/${k}`]}`);
    }
    const [version] = await values(page, '[data-figure="version"]');
    assert(version === state.version, `version ${version} != ${state.version}`);
    const leader = await page.textContent('[data-figure="leader"]');
    assert(leader.includes(`${state.leader_info.ip}:${state.leader_info.port}`), `leader ${leader}`);
    for (const s of ['TASK_RUNNING', 'TASK_FINISHED', 'TASK_FAILED']) {
      const v = await page.textContent(`[data-tasks="${s}"]`);
      const want = m['master/tasks_' + s.slice(5).toLowerCase()];
      assert(Number(v) === want, `${s}: page ${v}, API ${want}`);
    }
    const fw = state.frameworks.find(f => f.id === 'launcher');
    const [share] = await values(page, '[data-share="launcher"]');
    assert(near(share, fw.dominant_share), `dominant share ${share} != ${fw.dominant_share}`);
    const href = await page.getAttribute('[data-plugin="launcher"]', 'href');
    assert(href === fw.webui_url, `plugin link ${href} != ${fw.webui_url}`);
    await shot(page, 'overview');
    // Live: a task launched now shows up without a reload.
    await page.evaluate(() => { window.notReloaded = true; });
    const running = Number(await page.textContent('[data-tasks="TASK_RUNNING"]'));
    c.live.push('ui-live');
    await c.launch('ui-live', 'sleep 600', 'TASK_RUNNING');
    await page.waitForFunction(n => document.querySelector('[data-tasks="TASK_RUNNING"]')
      .textContent === String(n), running + 1);
    const [used] = await values(page, '[data-figure="cpus_used"]');
    assert(near(used, (await c.json('/metrics/snapshot'))['master/cpus_used']), 'cpus used after the launch');
    assert(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
  },

  async agents(page, c) {
    await page.goto(c.base + '/ui/agents');
    const row = page.locator('#agents tbody tr', {hasText: c.agentId});
    await row.waitFor();
    assert((await page.locator('#agents tbody tr').count()) === 1, 'one agent row');
    assert((await row.textContent()).includes('127.0.0.1'), 'the agent row names its host');
    await shot(page, 'agents');
    // Its page, by the link (no reload: the router handles it).
    await row.locator('a').first().click();
    await page.waitForURL(/\/ui\/agent\?id=/);
    await page.locator('main tbody tr', {hasText: 'ui-run'}).waitFor();
    const text = await page.textContent('main');
    assert(text.includes('rack') && text.includes('r1'), 'the agent page shows its attributes');
    assert(text.includes('[31000-31010]'), 'the agent page shows its ports');
    await shot(page, 'agent');
  },

  async tasks(page, c) {
    await page.goto(c.base + '/ui/tasks');
    const rows = page.locator('#tasks tbody tr');
    await page.locator('#tasks tbody tr', {hasText: 'ui-fin'}).waitFor();
    const api = (await c.json('/master/tasks?limit=-1')).tasks;
    assert((await rows.count()) === api.length, `${await rows.count()} rows, API ${api.length} tasks`);
    await shot(page, 'tasks');
    await page.selectOption('#state-filter', 'TASK_RUNNING');
    await page.waitForFunction(() => !document.querySelector('#tasks').textContent.includes('ui-fin'));
    const running = api.filter(t => t.state === 'TASK_RUNNING').map(t => t.id);
    const shown = await page.$$eval('#tasks tbody tr td:first-child', tds => tds.map(td => td.textContent));
    assert(JSON.stringify(shown.sort()) === JSON.stringify(running.sort()), `running: ${shown} != ${running}`);
    assert(page.url().includes('state=TASK_RUNNING'), 'the filter is in the URL');
    await page.selectOption('#state-filter', '');
    await page.fill('#task-search', 'fin');
    await page.waitForFunction(() => !document.querySelector('#tasks').textContent.includes('ui-run'));
    assert((await rows.count()) === 1, 'the search leaves one task');
    // The filter survives a poll: the page redraws, the input keeps it.
    await sleep(2500);
    assert((await rows.count()) === 1 && (await page.inputValue('#task-search')) === 'fin', 'filter after a poll');
    await page.locator('#tasks a', {hasText: 'ui-fin'}).click();
    await page.waitForURL(/\/ui\/task\?id=ui-fin/);
    await page.locator('main tbody tr', {hasText: 'TASK_FINISHED'}).waitFor();
    const t = await c.task('ui-fin');
    const states = await page.$$eval('main table tbody tr td:first-child', tds => tds.map(td => td.textContent));
    const want = t.statuses.map(s => s.state);
    assert(JSON.stringify(states) === JSON.stringify(want), `history ${states} != ${want}`);
    await shot(page, 'task');
  },

  async sandbox(page, c) {
    await page.goto(`${c.base}/ui/task?id=ui-run`);
    await page.locator('a', {hasText: 'stdout, stderr and files'}).click();
    await page.waitForURL(/\/ui\/sandbox\?/);
    await page.waitForFunction(line => document.querySelector('#tail').textContent.includes(line), LINE);
    // The task keeps writing: what the page shows is the start of what
    // the file holds a moment later (a small file is tailed from 0).
    const shown = await page.textContent('#tail');
    const via = await c.json(`/agents/${c.agentId}/files/read?path=/sandboxes/ui-run/stdout&offset=0`);
    assert(shown.startsWith(LINE + '\n') && via.data.startsWith(shown),
           `the tail ${JSON.stringify(shown)} is not the file's start ${JSON.stringify(via.data)}`);
    await page.locator('#listing tbody tr', {hasText: 'stderr'}).waitFor();
    await shot(page, 'sandbox');
    // Live: a line written after the page opened shows up (the task
    // writes one every second).
    const before = await page.textContent('#tail');
    await page.waitForFunction(n => document.querySelector('#tail').textContent.length > n, before.length);
    await page.locator('.tabs button', {hasText: 'stderr'}).click();
    await page.waitForFunction(() => document.querySelector('#tail').textContent.includes('to stderr'));
    assert(page.url().includes('file=%2Fsandboxes%2Fui-run%2Fstderr'), 'the file followed is in the URL');
  },
};

Object.assign(checks, marathonChecks({assert, shot, waitFor}),
              chronosChecks({assert, shot, waitFor, sleep}));

// AGORA_UI_ONLY=marathon runs the checks whose names start so.
const ONLY = process.env.AGORA_UI_ONLY || '';

async function main() {
  fs.mkdirSync(OUT, {recursive: true});
  const c = new Cluster();
  let browser, passed = 0, failed = 0;
  const started = Date.now();
  try {
    await c.start(path.join(OUT, 'cluster'));
    c.live = ['ui-run'];
    await c.launch('ui-run', `echo ${LINE}; echo to stderr >&2; ` +
                   'while sleep 1; do echo tick; done', 'TASK_RUNNING');
    await c.launch('ui-fin', 'echo done', 'TASK_FINISHED');
    browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS,
                                     timeout: 60000 * SLOW});
    for (const [name, check] of Object.entries(checks)) {
      if (!name.startsWith(ONLY)) continue;
      const page = await browser.newPage({viewport: {width: 1280, height: 800}});
      page.setDefaultTimeout(10000 * SLOW);
      const errors = [];
      // A check that provokes an error answer on purpose lists it in
      // page.allowedErrors (Chromium logs every 4xx as a console error).
      page.allowedErrors = [];
      page.on('console', msg => {
        if (msg.type() === 'error' && !page.allowedErrors.some(re => re.test(msg.text()))) {
          errors.push(msg.text());
        }
      });
      page.on('pageerror', e => errors.push(e.message));
      const t0 = Date.now();
      try {
        await check(page, c);
        assert(errors.length === 0, `the page logged errors: ${errors.join(' | ')}`);
        passed++;
        console.log(`ok   ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e.message}`);
        await shot(page, `${name}-failed`).catch(() => {});
      }
      await page.close();
    }
  } catch (e) {
    failed++;
    console.log(`FAIL setup: ${e.stack || e.message}`);
  } finally {
    if (browser) await browser.close();
    await c.stop();
    if (c.dir) {
      const reports = c.sanitizerReports();
      if (c.masterExit && c.masterExit.code !== 0) {
        reports.push(`the master exited with ${JSON.stringify(c.masterExit)}`);
      }
      if (reports.length) {
        failed++;
        console.log(`FAIL sanitizers: ${reports.join(', ')} (logs in ${c.dir})`);
      }
    }
  }
  console.log(`ui: screenshots in ${OUT}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
