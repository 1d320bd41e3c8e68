// api.js - marathon's REST API as the page uses it. Every path is
// relative (v2/...): the page is / on marathon's port and /marathon/ on
// the master's, and the same files must work under both.

// An API error: the status, the message, and Marathon's 422 details
// ([{path, errors}]) when the answer has them.
export class ApiError extends Error {
  constructor(status, body, fallback) {
    super(body && body.message ? body.message : fallback);
    this.status = status;
    this.details = body && Array.isArray(body.details) ? body.details : [];
  }
}

// method path [body] -> the answer's JSON (null when it has none).
export async function call(method, path, body) {
  const init = {method, headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    if (r.ok) throw new ApiError(r.status, null, `${path}: not JSON`);
  }
  if (!r.ok) throw new ApiError(r.status, json, `${r.status} ${r.statusText}`);
  return json;
}

export const get = path => call('GET', path);

// "/a/b" -> "v2/apps/a/b" (ids keep their slashes: the route is *id).
export function appPath(id, rest = '') {
  return 'v2/apps/' + id.replace(/^\//, '').split('/').map(encodeURIComponent).join('/') + rest;
}

const EMBED = ['apps.tasks', 'apps.counts', 'apps.deployments', 'apps.lastTaskFailure'];

// Apps, the launch queue and deployments in one go: the list and the
// detail page both need all three to say an app's status.
export async function snapshot() {
  const q = EMBED.map(e => 'embed=' + e).join('&');
  const [apps, queue, deployments] = await Promise.all([
    get('v2/apps?' + q), get('v2/queue'), get('v2/deployments')]);
  return {apps: apps.apps || [], queue: queue.queue || [], deployments: deployments || []};
}

// Marathon's UI statuses, in its order of precedence: the launch queue
// first, since it says why a deployment is not finishing (backing off
// after failures, or waiting for offers that fit).
export function appStatus(app, queue) {
  const q = queue.find(e => e.app && e.app.id === app.id);
  if (q && q.delay && !q.delay.overdue) return 'Delayed';
  if (q) return 'Waiting';
  if (app.deployments && app.deployments.length) return 'Deploying';
  if (app.instances === 0 && !app.tasksRunning) return 'Suspended';
  return 'Running';
}

// The keys of an app that are state, not definition: left out of the
// editor and of what a PUT sends.
const STATE_KEYS = ['version', 'versionInfo', 'tasks', 'tasksRunning', 'tasksStaged',
  'tasksHealthy', 'tasksUnhealthy', 'deployments', 'lastTaskFailure', 'readinessCheckResults',
  'taskStats', 'counts'];

export function definition(app) {
  const d = {};
  for (const [k, v] of Object.entries(app)) if (!STATE_KEYS.includes(k)) d[k] = v;
  return d;
}
