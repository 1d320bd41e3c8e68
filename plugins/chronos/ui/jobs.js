// jobs.js - the job list: name, status (success, failure, fresh), state
// (idle, queued, running), schedule in words, next run in the job's
// zone, successes and errors with their last times.

import {h, fill, table} from './dom.js';
import {scheduleWords, isoStart, inZone} from './schedule.js';

export function statusTag(status) {
  return h('span', {class: 'status ' + status, 'data-status': status}, status);
}

export function stateTag(state) {
  const s = String(state || 'idle');
  const cls = /running/.test(s) ? 'state-running' : s === 'queued' ? 'state-queued' : null;
  return h('span', {class: cls}, s);
}

// next: Map name -> the first run v1/scheduler/next gave (cron jobs).
export function renderJobs(main, jobs, next) {
  const rows = jobs.slice().sort((a, b) => a.name.localeCompare(b.name)).map(j => {
    const when = isoStart(j) || next.get(j.name) || '';
    return {attrs: {'data-job': j.name}, cells: [
      h('a', {href: '#/jobs/' + encodeURIComponent(j.name)}, j.name),
      statusTag(j.status), stateTag(j.state),
      h('span', {title: j.schedule || ''}, j.disabled ? 'disabled' : scheduleWords(j)),
      when ? inZone(when, j.scheduleTimeZone) : '—',
      h('span', {'data-success': j.name}, String(j.successCount || 0)),
      h('span', {'data-errors': j.name}, String(j.errorCount || 0)),
      j.lastSuccess ? inZone(j.lastSuccess, j.scheduleTimeZone) : '—',
      j.lastError ? inZone(j.lastError, j.scheduleTimeZone) : '—',
    ]};
  });
  fill(main, h('h1', {}, 'Jobs'),
    table([{label: 'Name'}, {label: 'Status'}, {label: 'State'}, {label: 'Schedule'},
           {label: 'Next run'}, {label: 'Successes', num: true}, {label: 'Errors', num: true},
           {label: 'Last success'}, {label: 'Last error'}],
          rows, 'No jobs: add one with New Job.', {id: 'jobs'}));
}
