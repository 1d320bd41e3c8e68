// jobpage.js - one job: what it is, its actions (Run now, Disable or
// Enable, Edit, Delete), its next runs, and its stats (the durations'
// percentiles and the last runs, v1/scheduler/job/stat/<name>).

import {h, fill, table, kv} from './dom.js';
import {call, get, job, save, definition, nextRuns} from './api.js';
import {statusTag, stateTag} from './jobs.js';
import {scheduleWords, inZone} from './schedule.js';

export class JobPage {
  constructor(main, name, ctx) {
    this.name = name;
    this.ctx = ctx; // {refresh(), edit(job), go(hash), fail(e)}
    this.head = h('div');
    this.disableBtn = h('button', {type: 'button', id: 'act-disable',
                                   onclick: () => this.toggleDisabled()}, 'Disable');
    this.body = h('div');
    this.stats = h('div', {id: 'stats'});
    this.nextEl = h('ol', {id: 'next-runs', class: 'preview'});
    fill(main, h('p', {}, h('a', {href: '#/'}, '← Jobs')), this.head,
      h('div', {class: 'actions'},
        h('button', {type: 'button', id: 'act-run', class: 'primary', onclick: () => this.run()}, 'Run now'),
        this.disableBtn,
        h('button', {type: 'button', id: 'act-edit', onclick: () => this.job && ctx.edit(this.job)}, 'Edit'),
        h('button', {type: 'button', id: 'act-delete', class: 'danger', onclick: () => this.remove()}, 'Delete')),
      this.body, h('h2', {}, 'Next runs'), this.nextEl, h('h2', {}, 'Stats'), this.stats);
    this.nextOf = null;
  }

  async run() {
    try {
      await call('PUT', job(this.name));
      this.ctx.refresh();
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  async toggleDisabled() {
    if (!this.job) return;
    try {
      await save({...definition(this.job), disabled: !this.job.disabled});
      this.ctx.refresh();
    } catch (e) {
      this.ctx.fail(e);
    }
  }

  async remove() {
    if (!confirm(`Delete ${this.name}?`)) return;
    // A snapshot taken before the delete may still arrive: it must not
    // ask for the stats of a job that is gone (a 400).
    this.removing = true;
    try {
      await call('DELETE', job(this.name));
      this.ctx.go('#/');
    } catch (e) {
      this.removing = false;
      this.ctx.fail(e);
    }
  }

  update(jobs) {
    if (this.removing) return;
    const j = jobs.find(x => x.name === this.name);
    this.job = j;
    if (!j) {
      fill(this.head, h('h1', {}, this.name), h('p', {class: 'empty'}, 'No such job (deleted?).'));
      fill(this.body);
      return;
    }
    this.disableBtn.textContent = j.disabled ? 'Enable' : 'Disable';
    const zone = j.scheduleTimeZone;
    fill(this.head, h('h1', {}, j.name, ' ', statusTag(j.status)));
    fill(this.body, kv([
      ['State', stateTag(j.state)], ['Command', j.command || ''], ['Owner', j.owner || ''],
      ['Schedule', `${j.disabled ? 'disabled: ' : ''}${scheduleWords(j)}`],
      ['As written', j.schedule || (j.parents || []).join(', ')],
      ['Time zone', zone || 'UTC'], ['Epsilon', j.epsilon || ''], ['Retries', String(j.retries ?? '')],
      ['Resources', `${j.cpus} CPUs, ${j.mem} MiB, ${j.disk} MiB disk`],
      ['Container', (j.container && j.container.image) || 'none'],
      ['Successes', h('span', {id: 'job-success'}, String(j.successCount || 0))],
      ['Errors', String(j.errorCount || 0)],
      ['Last success', inZone(j.lastSuccess, zone)], ['Last error', inZone(j.lastError, zone)]]));
    const key = `${j.schedule}\n${zone}\n${j.disabled}`;
    if (this.nextOf !== key) {
      this.nextOf = key;
      this.loadNext(j);
    }
    this.loadStats(zone);
  }

  async loadNext(j) {
    if (j.disabled || !j.schedule) {
      fill(this.nextEl, h('li', {class: 'muted'}, j.disabled ? 'disabled' : 'after its parents'));
      return;
    }
    try {
      const r = await nextRuns(j.schedule, j.scheduleTimeZone);
      fill(this.nextEl, r.next.map(t => h('li', {}, inZone(t, r.timezone))));
    } catch (e) {
      fill(this.nextEl, h('li', {class: 'error'}, e.message));
    }
  }

  async loadStats(zone) {
    try {
      const s = await get('job/stat/' + encodeURIComponent(this.name));
      const hist = s.histogram || {};
      const runs = (s.taskStatHistory || []).map(t => [t.taskId, t.status,
        inZone(t.startTime, zone), inZone(t.endTime, zone), t.slaveId || '']);
      fill(this.stats,
        kv(Object.entries(hist).map(([k, v]) => [k, typeof v === 'number' ? `${v}` : JSON.stringify(v)])),
        h('h2', {}, 'Last runs'),
        table([{label: 'Task'}, {label: 'Status'}, {label: 'Started'}, {label: 'Ended'}, {label: 'Agent'}],
              runs, 'No runs yet.', {id: 'runs'}));
    } catch (e) {
      fill(this.stats, h('p', {class: 'error'}, e.message));
    }
  }
}
