// main.js - the page: a hash router (#/, #/jobs/<name>, #/graph; the
// hash needs nothing from the server and keeps relative URLs working
// under both roots) over one snapshot of the jobs, refreshed every 2 s
// (Chronos has no event stream).

import {h, fill, banner as showBanner, markNav} from './dom.js';
import {snapshot, nextRuns} from './api.js';
import {renderJobs} from './jobs.js';
import {JobPage} from './jobpage.js';
import {renderGraph} from './graph.js';
import {JobForm} from './jobform.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const POLL_MS = 2000;

const ctx = {
  refresh: () => refresh(),
  go: hash => { location.hash = hash; },
  edit: job => form.open(job),
  fail: e => banner(e.message),
};
const form = new JobForm(document.getElementById('job-dialog'), name => {
  location.hash = '#/jobs/' + encodeURIComponent(name);
  refresh();
});

let page = null;
let jobs = null;
let busy = false;
// Cron jobs' next runs, asked of the scheduler once per schedule a minute.
const next = new Map();
const nextAsked = new Map();

function banner(msg) {
  showBanner(main, msg);
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  let name = 'jobs';
  if (hash.startsWith('/jobs/')) name = 'job';
  else if (hash === '/graph') name = 'graph';
  markNav(name === 'job' ? 'jobs' : name);
  page = {name};
  if (name === 'job') page.job = new JobPage(main, decodeURIComponent(hash.slice(6)), ctx);
  else fill(main, h('p', {class: 'muted'}, 'Loading…'));
  if (jobs) render();
  refresh();
}

function render() {
  if (page.name === 'jobs') renderJobs(main, jobs, next);
  else if (page.name === 'job') page.job.update(jobs);
  else renderGraph(main, jobs);
}

async function cronNext() {
  const now = Date.now();
  for (const j of jobs) {
    if (!j.schedule || !j.schedule.startsWith('cron:') || j.disabled) continue;
    const key = `${j.schedule}\n${j.scheduleTimeZone || ''}`;
    if (nextAsked.get(j.name) === key && next.has(j.name) && new Date(next.get(j.name)) > now) continue;
    nextAsked.set(j.name, key);
    try {
      const r = await nextRuns(j.schedule, j.scheduleTimeZone, 1);
      next.set(j.name, r.next[0] || '');
    } catch (e) {
      next.set(j.name, '');
    }
  }
}

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    jobs = await snapshot();
    await cronNext();
    banner('');
    live.textContent = 'live';
    live.classList.remove('down');
    render();
  } catch (e) {
    live.textContent = 'unreachable';
    live.classList.add('down');
    banner(`Cannot reach chronos: ${e.message}`);
  } finally {
    busy = false;
  }
}

document.getElementById('new-job').addEventListener('click', () => form.open(null));
window.addEventListener('hashchange', route);
setInterval(refresh, POLL_MS);
route();
