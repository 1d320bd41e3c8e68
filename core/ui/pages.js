// pages.js - overview, agents, agent, tasks and task pages. Each page is
// mount(main, params, nav) -> {update(data)}: mount builds what stays
// (filters keep their focus), update redraws the figures from the latest
// poll (app.js). data = {state, metrics, tasks}.

import {h, fill, table, kv, bar, stateTag, num, mb, duration, time, link} from './dom.js';
import {TASK_STATES, TASKS_LIMIT, dominantShare, stateTasks} from './api.js';

// data-value keeps the number as the API gave it (tests compare them).
function figure(label, key, value, raw) {
  return h('div', {class: 'card'},
    h('div', {class: 'label'}, label),
    h('div', {class: 'value', 'data-figure': key, 'data-value': raw ?? value}, value));
}

function resourceCard(m, r, label, fmt) {
  const used = m[`master/${r}_used`] || 0, total = m[`master/${r}_total`] || 0;
  return h('div', {class: 'card'},
    h('div', {class: 'label'}, label),
    h('div', {class: 'value'},
      h('span', {'data-figure': `${r}_used`, 'data-value': used}, fmt(used)), ' / ',
      h('span', {'data-figure': `${r}_total`, 'data-value': total}, fmt(total))),
    bar(used, total));
}

export function overview(main) {
  const body = h('div');
  fill(main, h('h1', {}, 'Overview'), body);
  return {
    update({state, metrics: m}) {
      const leader = state.leader_info
        ? `${state.leader_info.hostname} (${state.leader_info.ip}:${state.leader_info.port})`
        : (state.leader || 'none');
      const states = TASK_STATES.map(s => [s, m['master/tasks_' + s.slice(5).toLowerCase()]])
        .filter(([, n]) => typeof n === 'number');
      const fws = (state.frameworks || []).map(f => {
        const d = typeof f.dominant_share === 'number'
          ? {share: f.dominant_share} : dominantShare(f, m);
        return [f.name, f.id, (f.tasks || []).length,
                h('span', {'data-share': f.id, 'data-value': d.share},
                  (100 * d.share).toFixed(1) + '%'),
                f.webui_url ? h('a', {href: f.webui_url}, 'UI') : ''];
      });
      fill(body,
        h('div', {class: 'cards'},
          figure('Leader', 'leader', leader),
          figure('Version', 'version', state.version),
          figure('Uptime', 'uptime', duration(m['master/uptime_secs']), m['master/uptime_secs']),
          figure('Agents active', 'slaves_active', String(m['master/slaves_active'] ?? 0)),
          figure('Agents unreachable', 'slaves_unreachable', String(m['master/slaves_unreachable'] ?? 0)),
          resourceCard(m, 'cpus', 'CPUs', num),
          resourceCard(m, 'mem', 'Memory', mb),
          resourceCard(m, 'disk', 'Disk', mb)),
        h('h2', {}, 'Frameworks'),
        table([{label: 'Name'}, {label: 'ID'}, {label: 'Active tasks', num: true},
               {label: 'Dominant share', num: true}, {label: ''}], fws, 'No framework'),
        h('h2', {}, 'Tasks by state'),
        table([{label: 'State'}, {label: 'Tasks', num: true}],
              states.map(([s, n]) => [stateTag(s), h('span', {'data-tasks': s}, String(n))]),
              'No task'));
    },
  };
}

function agentRow(a) {
  const r = a.resources || {}, u = a.used_resources || {};
  return [link(`/ui/agent?id=${encodeURIComponent(a.id)}`, a.id), a.hostname,
          stateTag((a.state || (a.active ? 'active' : 'inactive')).toUpperCase()),
          `${num(u.cpus)} / ${num(r.cpus)}`, `${mb(u.mem)} / ${mb(r.mem)}`,
          `${mb(u.disk)} / ${mb(r.disk)}`, String(a.tasks ?? '')];
}

const AGENT_COLUMNS = [{label: 'ID'}, {label: 'Host'}, {label: 'State'},
  {label: 'CPUs', num: true}, {label: 'Memory', num: true},
  {label: 'Disk', num: true}, {label: 'Tasks', num: true}];

export function agents(main) {
  const body = h('div', {id: 'agents'});
  fill(main, h('h1', {}, 'Agents'), body);
  return {
    update({state}) {
      fill(body, table(AGENT_COLUMNS, (state.slaves || []).map(agentRow), 'No agent'));
    },
  };
}

function taskRow(t) {
  return [link(`/ui/task?id=${encodeURIComponent(t.id)}`, t.id), t.name,
          stateTag(t.state), t.framework_id,
          link(`/ui/agent?id=${encodeURIComponent(t.slave_id)}`, t.slave_id),
          num((t.resources || {}).cpus), mb((t.resources || {}).mem),
          time(lastTimestamp(t))];
}

const TASK_COLUMNS = [{label: 'ID'}, {label: 'Name'}, {label: 'State'},
  {label: 'Framework'}, {label: 'Agent'}, {label: 'CPUs', num: true},
  {label: 'Memory', num: true}, {label: 'Updated'}];

function lastTimestamp(t) {
  const s = t.statuses || [];
  return s.length ? s[s.length - 1].timestamp : 0;
}

export function agent(main, params) {
  const id = params.get('id') || '';
  const body = h('div');
  fill(main, h('h1', {}, 'Agent ', h('span', {class: 'muted'}, id)), body);
  return {
    update({state}) {
      const a = (state.slaves || []).find(x => x.id === id);
      if (!a) {
        fill(body, h('p', {class: 'error'}, `No agent ${id} is known to the master.`));
        return;
      }
      const r = a.resources || {}, u = a.used_resources || {};
      const attrs = Object.entries(a.attributes || {});
      const tasks = stateTasks(state).filter(t => t.slave_id === id);
      fill(body,
        kv([['Host', `${a.hostname}:${a.port}`], ['State', a.state || ''],
            ['Version', a.version || ''], ['Registered', time(a.registered_time)],
            ['Last seen', time(a.last_seen)]]),
        h('h2', {}, 'Resources'),
        table([{label: 'Resource'}, {label: 'Used', num: true}, {label: 'Total', num: true}, {label: ''}],
          [['cpus', num(u.cpus), num(r.cpus), bar(u.cpus || 0, r.cpus || 0)],
           ['mem', mb(u.mem), mb(r.mem), bar(u.mem || 0, r.mem || 0)],
           ['disk', mb(u.disk), mb(r.disk), bar(u.disk || 0, r.disk || 0)],
           ['ports', '', r.ports || '', '']], ''),
        h('h2', {}, 'Attributes'),
        table([{label: 'Name'}, {label: 'Value'}], attrs.map(([k, v]) => [k, String(v)]), 'No attribute'),
        h('h2', {}, 'Tasks'),
        table(TASK_COLUMNS, tasks.map(taskRow), 'No task on this agent'));
    },
  };
}

export function tasks(main, params, nav) {
  const stateSel = h('select', {id: 'state-filter', 'aria-label': 'State'},
    h('option', {value: ''}, 'All states'),
    TASK_STATES.map(s => h('option', {value: s}, s)));
  const search = h('input', {id: 'task-search', type: 'search',
                             placeholder: 'Search id, name, framework, agent', 'aria-label': 'Search'});
  stateSel.value = params.get('state') || '';
  search.value = params.get('q') || '';
  const body = h('div', {id: 'tasks'});
  let last = null;
  const redraw = () => {
    if (last) draw(last);
    // The filters live in the URL, so a reload or a shared link keeps them.
    const q = new URLSearchParams();
    if (stateSel.value) q.set('state', stateSel.value);
    if (search.value) q.set('q', search.value);
    nav.replace('/ui/tasks' + (q.toString() ? '?' + q : ''));
  };
  stateSel.addEventListener('change', redraw);
  search.addEventListener('input', redraw);
  fill(main, h('h1', {}, 'Tasks'), h('div', {class: 'filters'}, stateSel, search), body);

  function draw(data) {
    const want = stateSel.value, needle = search.value.trim().toLowerCase();
    const rows = data.tasks.filter(t => (!want || t.state === want) &&
      (!needle || [t.id, t.name, t.framework_id, t.slave_id]
        .some(x => String(x || '').toLowerCase().includes(needle))));
    fill(body, table(TASK_COLUMNS, rows.map(taskRow), 'No task matches'),
      data.tasks.length >= TASKS_LIMIT
        ? h('p', {class: 'muted'}, `The latest ${TASKS_LIMIT} tasks are searched.`) : null);
  }
  return {
    update(data) {
      last = data;
      draw(data);
    },
  };
}

export function task(main, params) {
  const id = params.get('id') || '';
  const body = h('div');
  fill(main, h('h1', {}, 'Task ', h('span', {class: 'muted'}, id)), body);
  return {
    update({tasks: all}) {
      const t = all.find(x => x.id === id);
      if (!t) {
        fill(body, h('p', {class: 'error'}, `No task ${id} is known to the master.`));
        return;
      }
      const res = t.resources || {};
      const sandbox = `/ui/sandbox?agent=${encodeURIComponent(t.slave_id)}` +
        `&task=${encodeURIComponent(t.id)}`;
      fill(body,
        kv([['Name', t.name], ['State', stateTag(t.state)], ['Framework', t.framework_id],
            ['Agent', link(`/ui/agent?id=${encodeURIComponent(t.slave_id)}`, t.slave_id)],
            ['Resources', Object.entries(res).map(([k, v]) => `${k}: ${v}`).join(', ')],
            ['Sandbox', link(sandbox, 'stdout, stderr and files')]]),
        h('h2', {}, 'Status history'),
        table([{label: 'State'}, {label: 'Time'}, {label: 'Reason'}, {label: 'Message'}, {label: 'Healthy'}],
          (t.statuses || []).map(s => [stateTag(s.state), time(s.timestamp), s.reason || '',
                                       s.message || '', s.healthy === undefined ? '' : String(s.healthy)]),
          'No status yet'));
    },
  };
}
