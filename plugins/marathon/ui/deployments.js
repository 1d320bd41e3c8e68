// deployments.js - deployments in progress: their apps, their steps
// (the current one marked), and the two ways out: roll back (a new
// deployment to the previous state) or stop (force: leave it as it is).

import {h, fill, table, when} from './dom.js';
import {call} from './api.js';

function steps(d) {
  return h('ol', {class: 'steps'}, (d.steps || []).map((s, i) =>
    h('li', {class: i + 1 === d.currentStep ? 'current' : i + 1 < d.currentStep ? 'done' : null},
      (s.actions || []).map(a => `${a.action || a.type} ${a.app || ''}`).join(', '))));
}

export function renderDeployments(main, snap, ctx) {
  const stop = async (id, force) => {
    try {
      await call('DELETE', 'v2/deployments/' + encodeURIComponent(id) + (force ? '?force=true' : ''));
      ctx.refresh();
    } catch (e) {
      ctx.fail(e);
    }
  };
  const rows = snap.deployments.map(d => ({attrs: {'data-deployment': d.id}, cells: [
    d.id, (d.affectedApps || []).join(', '), when(d.version),
    `${d.currentStep}/${d.totalSteps}`, steps(d),
    h('span', {class: 'pair'},
      h('button', {type: 'button', class: 'small', onclick: () => stop(d.id, false)}, 'Rollback'),
      h('button', {type: 'button', class: 'small danger', onclick: () => stop(d.id, true)}, 'Stop'))]}));
  fill(main, h('h1', {}, 'Deployments'),
    table([{label: 'ID'}, {label: 'Apps'}, {label: 'Started'}, {label: 'Step', num: true},
           {label: 'Steps'}, {label: ''}], rows, 'No deployments in progress.', {id: 'deployments'}));
}
