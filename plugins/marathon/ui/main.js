// main.js - the page: a hash router (#/, #/apps/<id>, #/deployments;
// the hash needs nothing from the server and keeps relative URLs
// working under both roots), one snapshot of apps, queue and
// deployments shared by the pages, refreshed on each event of
// v2/events (debounced) and every 5 s besides (a backoff ending sends
// no event).

import {h, fill, banner as showBanner, markNav} from './dom.js';
import {snapshot} from './api.js';
import {renderApps} from './apps.js';
import {DetailPage} from './detail.js';
import {renderDeployments} from './deployments.js';
import {AppForm} from './appform.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const POLL_MS = 5000;
const DEBOUNCE_MS = 250;

// Marathon's event types that change what the pages show.
const EVENTS = ['status_update_event', 'instance_changed_event', 'health_status_changed_event',
  'failed_health_check_event', 'unhealthy_instance_kill_event', 'deployment_info',
  'deployment_success', 'deployment_failed', 'deployment_step_success',
  'deployment_step_failure', 'api_post_event', 'app_terminated_event', 'group_change_success',
  'add_health_check_event', 'remove_health_check_event'];

const ctx = {
  refresh: () => refresh(),
  go: hash => { location.hash = hash; },
  edit: app => form.open(app),
  fail: e => banner(e.message),
};
const form = new AppForm(document.getElementById('app-dialog'), id => {
  location.hash = '#/apps' + (id.startsWith('/') ? id : '/' + id);
  refresh();
});

let page = null;   // {name, detail?}
let snap = null;
let timer = null;
let inFlight = null;

function banner(msg) {
  showBanner(main, msg);
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  let name = 'apps';
  if (hash.startsWith('/apps/')) name = 'app';
  else if (hash === '/deployments') name = 'deployments';
  markNav(name === 'app' ? 'apps' : name);
  page = {name};
  if (name === 'app') page.detail = new DetailPage(main, decodeURIComponent(hash.slice(5)), ctx);
  else fill(main, h('p', {class: 'muted'}, 'Loading…'));
  if (snap) render();
  refresh();
}

function render() {
  if (page.name === 'apps') renderApps(main, snap);
  else if (page.name === 'app') page.detail.update(snap);
  else renderDeployments(main, snap, ctx);
}

// One snapshot at a time; a refresh asked for meanwhile runs after it.
async function refresh() {
  if (inFlight) {
    inFlight.again = true;
    return;
  }
  inFlight = {again: false};
  try {
    snap = await snapshot();
    banner('');
    render();
  } catch (e) {
    banner(`Cannot reach marathon: ${e.message}`);
  }
  const again = inFlight.again;
  inFlight = null;
  if (again) refresh();
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, DEBOUNCE_MS);
}

function listen() {
  const es = new EventSource('v2/events');
  es.onopen = () => { live.textContent = 'live'; live.classList.remove('down'); soon(); };
  es.onerror = () => { live.textContent = 'reconnecting…'; live.classList.add('down'); };
  for (const type of EVENTS) es.addEventListener(type, soon);
}

document.getElementById('create').addEventListener('click', () => form.open(null));
window.addEventListener('hashchange', route);
setInterval(refresh, POLL_MS);
listen();
route();
