// apps.js - the applications list: one row per app with its status,
// instances running/total, a health bar and its resources.

import {h, fill, table, segments, num, mb} from './dom.js';
import {appStatus} from './api.js';

export function statusTag(status) {
  return h('span', {class: 'status ' + status.toLowerCase(), 'data-status': status}, status);
}

// The health bar: healthy, unhealthy, running with no verdict, staged,
// and what is still missing, over the instances asked for.
export function healthBar(app) {
  const total = Math.max(app.instances || 0, (app.tasksRunning || 0) + (app.tasksStaged || 0));
  const healthy = app.tasksHealthy || 0, unhealthy = app.tasksUnhealthy || 0;
  const checked = (app.healthChecks || []).length > 0;
  const running = app.tasksRunning || 0;
  const unknown = checked ? Math.max(0, running - healthy - unhealthy) : running;
  return segments([
    {n: checked ? healthy : 0, cls: 'healthy', title: 'healthy'},
    {n: checked ? unhealthy : 0, cls: 'unhealthy', title: 'unhealthy'},
    {n: unknown, cls: checked ? 'unknown' : 'running', title: checked ? 'unknown' : 'running'},
    {n: app.tasksStaged || 0, cls: 'staged', title: 'staged'},
  ], total);
}

export function renderApps(main, snap) {
  const rows = snap.apps.slice().sort((a, b) => a.id.localeCompare(b.id)).map(app => {
    const status = appStatus(app, snap.queue);
    return {attrs: {'data-app': app.id}, cells: [
      h('a', {href: '#/apps' + app.id}, app.id),
      statusTag(status),
      h('span', {'data-instances': app.id}, `${app.tasksRunning || 0}/${app.instances}`),
      healthBar(app),
      num(app.cpus),
      mb(app.mem),
    ]};
  });
  fill(main,
    h('h1', {}, 'Applications'),
    table([{label: 'ID'}, {label: 'Status'}, {label: 'Running', num: true}, {label: 'Health'},
           {label: 'CPUs', num: true}, {label: 'Memory', num: true}],
          rows, 'No applications: create one.', {id: 'apps'}));
}
