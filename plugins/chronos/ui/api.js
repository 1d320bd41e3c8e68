// api.js - chronos' REST API as the page uses it. Every path is
// relative (v1/scheduler/...): the page is / on chronos' port and
// /chronos/ on the master's, and the same files must work under both.

export const API = 'v1/scheduler/';

// method path [body] -> the answer's JSON (null when it has none); an
// error carries the answer's message.
export async function call(method, path, body) {
  const init = {method, headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!r.ok) {
    const err = new Error(json && json.message ? json.message : text || `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return json;
}

export const get = path => call('GET', path);
export const job = name => 'job/' + encodeURIComponent(name);

// The jobs with their run state (idle, queued, N running) from the
// summary, one object each.
export async function snapshot() {
  const [jobs, summary] = await Promise.all([get('jobs'), get('jobs/summary')]);
  const state = new Map((summary.jobs || []).map(s => [s.name, s]));
  return (jobs || []).map(j => ({...j, state: (state.get(j.name) || {}).state || 'idle',
                                 status: (state.get(j.name) || {}).status || 'fresh'}));
}

// Scheduled jobs go to iso8601, dependent ones (with parents) to
// dependency: Chronos' two endpoints, which both create or replace.
export function save(def) {
  return call('POST', def.parents && def.parents.length ? 'dependency' : 'iso8601', def);
}

// The next `count` runs of a schedule in a zone, as the scheduler
// computes them (chronos' v1/scheduler/next).
export function nextRuns(schedule, timezone, count = 5) {
  const q = new URLSearchParams({schedule, count: String(count)});
  if (timezone) q.set('timezone', timezone);
  return get('next?' + q);
}

// A job without what the scheduler keeps about its runs: what a save
// sends back.
const STATE_KEYS = ['successCount', 'errorCount', 'lastSuccess', 'lastError',
  'errorsSinceLastSuccess', 'state', 'status'];

export function definition(j) {
  const d = structuredClone(j);
  for (const k of STATE_KEYS) delete d[k];
  return d;
}
