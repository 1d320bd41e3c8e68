// detail.js - one app: its status and actions (Scale, Restart, Suspend,
// Destroy, Edit), its tasks (kill one), its configuration, its versions
// (roll back to one), its last task failure and, while it waits, what
// the launch queue says.

import {h, fill, table, kv, num, mb, when} from './dom.js';
import {call, get, appPath, appStatus} from './api.js';
import {statusTag, healthBar} from './apps.js';

// The page's frame is built once per visit (the scale input keeps what
// is typed); update() redraws the data below it on each refresh.
export class DetailPage {
  constructor(main, id, ctx) {
    this.id = id;
    this.ctx = ctx; // {refresh(), edit(app), go(hash), fail(e)}
    this.head = h('div', {class: 'app-head'});
    this.scale = h('input', {id: 'scale-to', type: 'number', min: 0, step: 1, size: 4});
    this.body = h('div', {id: 'app-body'});
    this.versions = h('div', {id: 'versions'});
    fill(main, h('p', {}, h('a', {href: '#/'}, '← Applications')), this.head,
      h('div', {class: 'actions'},
        h('span', {class: 'pair'}, this.scale,
          h('button', {type: 'button', id: 'act-scale', onclick: () => this.act('scale')}, 'Scale')),
        h('button', {type: 'button', id: 'act-restart', onclick: () => this.act('restart')}, 'Restart'),
        h('button', {type: 'button', id: 'act-suspend', onclick: () => this.act('suspend')}, 'Suspend'),
        h('button', {type: 'button', id: 'act-edit', onclick: () => this.app && ctx.edit(this.app)}, 'Edit'),
        h('button', {type: 'button', id: 'act-destroy', class: 'danger',
                     onclick: () => this.act('destroy')}, 'Destroy')),
      this.body, h('h2', {}, 'Versions'), this.versions);
    this.versionsOf = null;
  }

  async act(what) {
    const path = appPath(this.id);
    try {
      if (what === 'scale') await call('PATCH', path, {instances: Number(this.scale.value)});
      if (what === 'restart') await call('POST', appPath(this.id, '/restart'));
      if (what === 'suspend') await call('PATCH', path, {instances: 0});
      if (what === 'destroy') {
        if (!confirm(`Destroy ${this.id}? Its tasks are killed.`)) return;
        await call('DELETE', path);
        this.ctx.go('#/');
        return;
      }
      this.ctx.refresh();
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  async killTask(taskId, scale) {
    try {
      await call('DELETE', appPath(this.id, '/tasks/' + encodeURIComponent(taskId)) +
                 (scale ? '?scale=true' : ''));
      this.ctx.refresh();
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  async rollback(version) {
    try {
      await call('PUT', appPath(this.id), {version});
      this.ctx.refresh();
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  update(snap) {
    const app = snap.apps.find(a => a.id === this.id);
    this.app = app;
    if (!app) {
      fill(this.head, h('h1', {}, this.id), h('p', {class: 'empty'}, 'No such application (destroyed?).'));
      fill(this.body);
      return;
    }
    if (this.scale.value === '') this.scale.value = String(app.instances);
    const status = appStatus(app, snap.queue);
    fill(this.head, h('h1', {}, app.id, ' ', statusTag(status)),
      h('p', {}, h('span', {'data-instances': app.id}, `${app.tasksRunning || 0}/${app.instances}`),
        ' running ', healthBar(app)));
    fill(this.body,
      this.queueInfo(snap.queue.find(e => e.app && e.app.id === app.id)),
      this.failure(app.lastTaskFailure),
      h('h2', {}, 'Tasks'), this.tasks(app),
      h('h2', {}, 'Configuration'), this.config(app));
    // Versions change only with the definition: ask again then.
    if (this.versionsOf !== app.version) {
      this.versionsOf = app.version;
      this.loadVersions(app.version);
    }
  }

  queueInfo(q) {
    if (!q) return null;
    const pairs = [['Waiting for', `${q.count} instance(s)`]];
    if (q.delay) pairs.push(['Delay', q.delay.overdue ? 'overdue: waiting for offers'
                                                      : `${q.delay.timeLeftSeconds} s left (backoff)`]);
    const s = q.processedOffersSummary;
    if (s) {
      pairs.push(['Offers processed', `${s.processedOffersCount || 0}, unused ${s.unusedOffersCount || 0}`]);
      if (s.lastUnusedOfferAt) pairs.push(['Last unused offer', when(s.lastUnusedOfferAt)]);
      for (const r of s.rejectSummaryLastOffers || []) {
        if (r.declined) pairs.push([`Declined: ${r.reason}`, `${r.declined} of ${r.processed}`]);
      }
    }
    if (q.lastUnusedOfferReason) pairs.push(['Reason', q.lastUnusedOfferReason]);
    return [h('h2', {}, 'Waiting'), h('div', {id: 'queue-info'}, kv(pairs))];
  }

  failure(f) {
    if (!f) return null;
    return [h('h2', {}, 'Last task failure'), h('div', {id: 'last-failure'}, kv([
      ['Task', f.taskId], ['State', f.state], ['Message', f.message || ''],
      ['Host', f.host || ''], ['At', when(f.timestamp)], ['Version', when(f.version)]]))];
  }

  tasks(app) {
    const rows = (app.tasks || []).map(t => {
      const hc = t.healthCheckResults || [];
      const health = !hc.length ? '—' : hc.every(r => r.alive) ? 'healthy' : 'unhealthy';
      return {attrs: {'data-task': t.id}, cells: [
        t.id, t.state || '', t.host || '', (t.ports || []).join(', '), health,
        when(t.startedAt || t.stagedAt), when(t.version),
        h('span', {class: 'pair'},
          h('button', {type: 'button', class: 'small', onclick: () => this.killTask(t.id, false)}, 'Kill'),
          h('button', {type: 'button', class: 'small', title: 'kill and scale down',
                       onclick: () => this.killTask(t.id, true)}, 'Kill & scale'))]};
    });
    return table([{label: 'ID'}, {label: 'State'}, {label: 'Host'}, {label: 'Ports'},
                  {label: 'Health'}, {label: 'Started'}, {label: 'Version'}, {label: ''}],
                 rows, 'No tasks.', {id: 'tasks'});
  }

  config(app) {
    const c = app.container && app.container.docker;
    const pairs = [['ID', app.id], ['Command', app.cmd || ''], ['CPUs', num(app.cpus)],
      ['Memory', mb(app.mem)], ['Disk', mb(app.disk)], ['Instances', String(app.instances)],
      ['Docker image', c ? c.image : ''],
      ['Ports', (app.portDefinitions || []).map(p => p.port).join(', ')],
      ['Environment', Object.entries(app.env || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')],
      ['Labels', Object.entries(app.labels || {}).map(([k, v]) => `${k}=${v}`).join(' ')],
      ['Health checks', (app.healthChecks || []).map(x => x.protocol + (x.path ? ' ' + x.path : '')).join(', ')],
      ['Constraints', JSON.stringify(app.constraints || [])],
      ['Version', when(app.version)]];
    return h('div', {id: 'config'}, kv(pairs));
  }

  async loadVersions(current) {
    try {
      const v = await get(appPath(this.id, '/versions'));
      const rows = (v.versions || []).map(ver => [when(ver),
        ver === current ? h('span', {class: 'muted'}, 'current')
          : h('button', {type: 'button', class: 'small', 'data-version': ver,
                         onclick: () => this.rollback(ver)}, 'Roll back')]);
      fill(this.versions, table([{label: 'Version'}, {label: ''}], rows, 'No versions.'));
    } catch (e) {
      fill(this.versions, h('p', {class: 'error'}, e.message));
    }
  }
}
