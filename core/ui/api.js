// api.js - the master's endpoints the UI reads, and figures derived from
// them. Same origin: the page's CSP allows nothing else.

export const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING',
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST',
  'TASK_DROPPED', 'TASK_UNREACHABLE', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
];

// The tasks list asks for the latest this many (the master keeps up to
// 10,000 ended tasks besides the live ones: a page need not carry them all
// every 2 s); a task's page asks for that task alone.
export const TASKS_LIMIT = 2000;

// GET path as JSON; an error carries the answer's {"message"}.
export async function getJSON(path, signal) {
  const r = await fetch(path, {headers: {Accept: 'application/json'}, signal});
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    if (r.ok) throw new Error(`${path}: not JSON`);
  }
  if (!r.ok) {
    const msg = body && body.message ? body.message : r.statusText;
    const err = new Error(`${r.status} ${msg}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

// Every task of /master/state, live and completed, each once.
export function stateTasks(state) {
  const out = [];
  for (const f of state.frameworks || []) {
    for (const t of (f.tasks || []).concat(f.completed_tasks || [])) out.push(t);
  }
  return out;
}

// A framework's dominant share: the largest of its used cpus, mem and
// disk over the cluster's total (DRF's measure).
export function dominantShare(fw, metrics) {
  let best = 0, which = '';
  for (const r of ['cpus', 'mem', 'disk']) {
    const total = metrics[`master/${r}_total`] || 0;
    const used = (fw.used_resources || {})[r] || 0;
    if (total > 0 && used / total > best) {
      best = used / total;
      which = r;
    }
  }
  return {share: best, resource: which};
}

// Where each plugin's UI is: its own port on this host, or /<name>/ on
// the master's; frameworks' webui_url when a plugin gives one.
export function pluginLinks(plugins, state) {
  const byName = new Map();
  for (const f of state.frameworks || []) {
    if (f.webui_url) byName.set(f.name, f.webui_url);
  }
  return (plugins.plugins || []).map(p => {
    let href = `/${p.name}/`;
    if (p.port) href = `${location.protocol}//${location.hostname}:${p.port}/`;
    else if (byName.has(p.name)) href = byName.get(p.name);
    return {name: p.name, href};
  });
}
