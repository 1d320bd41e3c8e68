// jobform.js - the New Job form (and Edit, the same form on a job):
// name, command, owner, the schedule (ISO 8601 or cron, or parents for
// a dependent job) with the next five runs as the scheduler computes
// them, time zone, epsilon, retries, resources and a container image.
// The server validates; its message is shown in the form.

import {h, fill} from './dom.js';
import {save, nextRuns, definition} from './api.js';
import {inZone} from './schedule.js';

const PREVIEW_MS = 300;

function nowIso() {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class JobForm {
  constructor(dialog, done) {
    this.dialog = dialog;
    this.done = done; // done(name) after a save
  }

  // job: null for a new job, or the job to edit.
  open(job) {
    this.editing = job ? job.name : null;
    this.base = job ? structuredClone(job) : {};
    this.build(job || {});
    this.dialog.showModal();
    this.preview();
  }

  input(id, label, value, attrs = {}) {
    const el = attrs.area ? h('textarea', {id, rows: 2}) : h('input', {id, type: attrs.type || 'text',
      step: attrs.step, placeholder: attrs.placeholder});
    el.value = value === undefined || value === null ? '' : String(value);
    this.els[id] = el;
    return h('div', {class: 'field' + (attrs.wide ? ' wide' : '')}, h('label', {for: id}, label), el,
      attrs.hint ? h('small', {class: 'muted'}, attrs.hint) : null);
  }

  build(j) {
    this.els = {};
    const sched = j.schedule || '';
    const kind = j.parents && j.parents.length ? 'dependent' : sched.startsWith('cron:') ? 'cron' : 'iso';
    this.kind = h('select', {id: 'j-kind'},
      h('option', {value: 'iso'}, 'ISO 8601 interval'), h('option', {value: 'cron'}, 'cron'),
      h('option', {value: 'dependent'}, 'after other jobs'));
    this.kind.value = kind;
    this.previewEl = h('ol', {id: 'j-preview', class: 'preview'});
    this.message = h('p', {id: 'j-message', class: 'error', role: 'alert'});
    const container = j.container || {};
    const fields = h('div', {class: 'fields'},
      this.input('j-name', 'Name', j.name),
      this.input('j-owner', 'Owner', j.owner, {placeholder: 'ops@example.com'}),
      this.input('j-command', 'Command', j.command, {area: true, wide: true}),
      h('div', {class: 'field'}, h('label', {for: 'j-kind'}, 'Runs'), this.kind),
      this.input('j-schedule', 'Schedule', kind === 'cron' ? sched.slice(5) : kind === 'iso' ? sched : '',
        {placeholder: `R/${nowIso()}/PT1H`, hint: 'ISO 8601 R[n]/start/period, or cron m h dom mon dow'}),
      this.input('j-parents', 'Parents', (j.parents || []).join(', '), {hint: 'comma-separated job names'}),
      this.input('j-tz', 'Time zone', j.scheduleTimeZone, {placeholder: 'UTC, Europe/Paris…'}),
      this.input('j-epsilon', 'Epsilon', j.epsilon || 'PT60S', {hint: 'how late a run may start'}),
      this.input('j-retries', 'Retries', j.retries ?? 2, {type: 'number'}),
      this.input('j-cpus', 'CPUs', j.cpus ?? 0.1, {type: 'number', step: '0.1'}),
      this.input('j-mem', 'Memory (MiB)', j.mem ?? 128, {type: 'number'}),
      this.input('j-disk', 'Disk (MiB)', j.disk ?? 256, {type: 'number'}),
      this.input('j-image', 'Container image', container.image, {placeholder: 'none: the host'}),
      h('div', {class: 'field wide'}, h('label', {}, 'Next five runs'), this.previewEl));
    if (this.editing) this.els['j-name'].readOnly = true;
    const form = h('form', {method: 'dialog', onsubmit: e => { e.preventDefault(); this.submit(); }},
      h('header', {class: 'dialog-head'},
        h('h2', {id: 'job-dialog-title'}, this.editing ? `Edit ${this.editing}` : 'New Job')),
      fields, this.message,
      h('footer', {class: 'dialog-foot'},
        h('button', {type: 'button', onclick: () => this.dialog.close()}, 'Cancel'),
        h('button', {type: 'submit', class: 'primary', id: 'j-submit'}, this.editing ? 'Save' : 'Create')));
    for (const id of ['j-schedule', 'j-tz']) this.els[id].addEventListener('input', () => this.later());
    this.kind.addEventListener('change', () => this.later());
    fill(this.dialog, form);
  }

  val(id) {
    return this.els[id].value.trim();
  }

  schedule() {
    const s = this.val('j-schedule');
    return this.kind.value === 'cron' ? 'cron:' + s : s;
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), PREVIEW_MS);
  }

  // The next five runs, or why there are none; an answer to an older
  // schedule than the one now typed is dropped.
  async preview() {
    const s = this.val('j-schedule');
    if (this.kind.value === 'dependent' || !s) {
      fill(this.previewEl, h('li', {class: 'muted'},
        this.kind.value === 'dependent' ? 'after each success of its parents' : 'no schedule'));
      return;
    }
    const asked = this.schedule() + '\n' + this.val('j-tz');
    this.asked = asked;
    try {
      const r = await nextRuns(this.schedule(), this.val('j-tz'));
      if (this.asked !== asked) return;
      fill(this.previewEl, r.next.length ? r.next.map(t => h('li', {'data-time': t}, inZone(t, r.timezone)))
        : h('li', {class: 'muted'}, 'no more runs'));
    } catch (e) {
      if (this.asked === asked) fill(this.previewEl, h('li', {class: 'error'}, e.message));
    }
  }

  // The job the form says: the base (what the form does not show is
  // kept) with each field's value.
  definition() {
    const d = definition(this.base);
    d.name = this.val('j-name');
    d.command = this.val('j-command');
    d.owner = this.val('j-owner');
    d.epsilon = this.val('j-epsilon');
    d.retries = Number(this.val('j-retries'));
    for (const k of ['cpus', 'mem', 'disk']) d[k] = Number(this.val('j-' + k));
    d.scheduleTimeZone = this.val('j-tz');
    if (this.kind.value === 'dependent') {
      d.parents = this.val('j-parents').split(',').map(x => x.trim()).filter(Boolean);
      delete d.schedule;
    } else {
      d.schedule = this.schedule();
      delete d.parents;
    }
    const image = this.val('j-image');
    if (image) d.container = {...(d.container || {}), type: (d.container || {}).type || 'DOCKER', image};
    else delete d.container;
    return d;
  }

  async submit() {
    this.message.textContent = '';
    const d = this.definition();
    const btn = this.dialog.querySelector('#j-submit');
    btn.disabled = true;
    try {
      await save(d);
      this.dialog.close();
      this.done(d.name);
    } catch (e) {
      this.message.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }
}
