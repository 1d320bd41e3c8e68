// app.js - the master's UI: a router over location.pathname (/ui/...,
// served as index.html by the master for any path without an
// extension), and one poll every 2 s of /master/state, /metrics/snapshot
// and, for the pages that show tasks, /master/tasks, which redraws the
// current page. Polling is bounded (one request of each in flight, none
// while the tab is hidden) and needs nothing of the server but GETs.

import {h, fill} from './dom.js';
import {TASKS_LIMIT, getJSON, pluginLinks} from './api.js';
import {overview, agents, agent, tasks, task} from './pages.js';
import {sandbox} from './sandbox.js';

const POLL_MS = 2000;

const ROUTES = {
  '': {page: overview, nav: 'overview'},
  'agents': {page: agents, nav: 'agents'},
  'agent': {page: agent, nav: 'agents'},
  'tasks': {page: tasks, nav: 'tasks', tasks: () => `/master/tasks?limit=${TASKS_LIMIT}&order=desc`},
  'task': {page: task, nav: 'tasks',
           tasks: q => '/master/tasks?task_id=' + encodeURIComponent(q.get('id') || '')},
  'sandbox': {page: sandbox, nav: 'tasks'},
};

const main = document.getElementById('main');
const live = document.getElementById('live');
let current = null, route = null, timer = null, polling = false;

const nav = {
  go(href) {
    history.pushState(null, '', href);
    mount();
  },
  // Updates the address (filters, the file followed) without a new page.
  replace(href) { history.replaceState(null, '', href); },
};

function routeName(pathname) {
  const p = pathname.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '' || p === 'ui') return '';
  return p.startsWith('ui/') ? p.slice(3) : null;
}

function mount() {
  if (current && current.destroy) current.destroy();
  const name = routeName(location.pathname);
  route = ROUTES[name];
  for (const a of document.querySelectorAll('header nav a[data-page]')) {
    a.classList.toggle('current', route && a.dataset.page === route.nav);
  }
  if (!route) {
    current = null;
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', location.pathname, '.'));
    return;
  }
  fill(main, h('p', {class: 'muted'}, 'Loading…'));
  current = route.page(main, new URLSearchParams(location.search), nav);
  poll();
}

async function poll() {
  clearTimeout(timer);
  if (polling) return;
  polling = true;
  const want = route;
  try {
    const [state, metrics, plugins, tasksDoc] = await Promise.all([
      getJSON('/master/state'), getJSON('/metrics/snapshot'), getJSON('/plugins'),
      want && want.tasks ? getJSON(want.tasks(new URLSearchParams(location.search))) : null,
    ]);
    drawPluginLinks(plugins, state);
    if (current && route === want) {
      current.update({state, metrics, tasks: tasksDoc ? tasksDoc.tasks : []});
    }
    live.textContent = 'live · ' + new Date().toLocaleTimeString();
    live.classList.remove('down');
  } catch (e) {
    live.textContent = 'master unreachable: ' + e.message;
    live.classList.add('down');
  } finally {
    polling = false;
    // A page mounted meanwhile gets its data at once, not 2 s later.
    if (!document.hidden) timer = setTimeout(poll, route !== want ? 0 : POLL_MS);
  }
}

function drawPluginLinks(plugins, state) {
  const el = document.getElementById('plugin-links');
  fill(el, pluginLinks(plugins, state).map(p =>
    h('a', {href: p.href, 'data-plugin': p.name}, p.name)));
}

// Links marked data-nav change the page without reloading it.
document.addEventListener('click', ev => {
  const a = ev.target.closest('a[data-nav]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  nav.go(a.getAttribute('href'));
});
window.addEventListener('popstate', mount);
document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });

mount();
