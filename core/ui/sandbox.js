// sandbox.js - a task's sandbox through the master's proxy of its agent's
// /files (GET /agents/<id>/files/{browse,read,download}): the directory's
// files, and stdout or stderr followed live. The tail reads forward from
// where it stopped, 64 KB a request, once a second when it has caught up,
// and keeps the last 256 KB on the page, so a chatty task cannot grow
// the page without bound.

import {h, fill, table, bytes, time} from './dom.js';
import {getJSON} from './api.js';

const CHUNK = 65536;
const KEEP = 262144;
const POLL_MS = 1000;

function filesURL(agentId, op, query) {
  return `/agents/${encodeURIComponent(agentId)}/files/${op}?` + new URLSearchParams(query);
}

export function sandbox(main, params, nav) {
  const agentId = params.get('agent') || '';
  const taskId = params.get('task') || '';
  const root = `/sandboxes/${taskId}`;
  const dir = params.get('path') || root;
  let file = params.get('file') || `${root}/stdout`;

  const tabs = h('div', {class: 'tabs', role: 'group'});
  const status = h('p', {class: 'muted', id: 'tail-status'});
  const log = h('pre', {class: 'log', id: 'tail', 'data-file': file});
  const listing = h('div', {id: 'listing'});
  fill(main,
    h('h1', {}, 'Sandbox of ', h('a', {href: `/ui/task?id=${encodeURIComponent(taskId)}`,
                                      'data-nav': true}, taskId)),
    tabs, status, log, h('h2', {}, 'Files in ', h('code', {}, dir)), listing);

  let offset = null, timer = null, gen = 0, stopped = false;
  const controller = new AbortController();

  function drawTabs() {
    fill(tabs, ['stdout', 'stderr'].map(name => {
      const path = `${root}/${name}`;
      return h('button', {type: 'button', 'aria-pressed': String(file === path),
                          onclick: () => follow(path)}, name);
    }));
  }

  function follow(path) {
    file = path;
    log.dataset.file = path;
    log.textContent = '';
    offset = null;
    gen++;
    clearTimeout(timer);
    drawTabs();
    const q = new URLSearchParams({agent: agentId, task: taskId, file: path});
    if (dir !== root) q.set('path', dir);
    nav.replace('/ui/sandbox?' + q);
    tick(gen);
  }

  async function tick(mine) {
    if (stopped || mine !== gen) return;
    let wait = POLL_MS;
    try {
      if (offset === null) {
        // offset -1 answers the file's size: start near its end.
        const end = await getJSON(filesURL(agentId, 'read', {path: file, offset: -1}), controller.signal);
        offset = Math.max(0, end.offset - CHUNK);
      }
      const r = await getJSON(filesURL(agentId, 'read', {path: file, offset, length: CHUNK}),
                              controller.signal);
      if (mine !== gen) return;
      const got = new TextEncoder().encode(r.data).length;
      if (got > 0) {
        const text = log.textContent + r.data;
        log.textContent = text.length > KEEP ? text.slice(text.length - KEEP) : text;
        log.scrollTop = log.scrollHeight;
        offset = r.offset + got;
        if (got === CHUNK) wait = 0;   // more is waiting: catch up
      }
      status.textContent = `${file}: ${bytes(offset)} read, following`;
      status.classList.remove('error');
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = `${file}: ${e.message}`;
      status.classList.add('error');
      wait = 3 * POLL_MS;
    }
    if (mine === gen && !stopped) timer = setTimeout(() => tick(mine), wait);
  }

  async function list() {
    try {
      const entries = await getJSON(filesURL(agentId, 'browse', {path: dir}), controller.signal);
      entries.sort((a, b) => a.path.localeCompare(b.path));
      fill(listing, table(
        [{label: 'Name'}, {label: 'Mode'}, {label: 'Size', num: true}, {label: 'Modified'}, {label: ''}],
        entries.map(e => {
          const name = e.path.slice(e.path.lastIndexOf('/') + 1);
          const isDir = e.mode.startsWith('d');
          const q = {agent: agentId, task: taskId};
          const open = isDir
            ? h('a', {href: '/ui/sandbox?' + new URLSearchParams({...q, path: e.path}), 'data-nav': true}, name + '/')
            : h('a', {href: '#', onclick: ev => { ev.preventDefault(); follow(e.path); }}, name);
          return [open, e.mode, bytes(e.size), time(e.mtime),
                  isDir ? '' : h('a', {href: filesURL(agentId, 'download', {path: e.path})}, 'download')];
        }), 'Empty directory'));
    } catch (e) {
      if (e.name !== 'AbortError') fill(listing, h('p', {class: 'error'}, e.message));
    }
  }

  drawTabs();
  tick(gen);
  list();
  return {
    update() { list(); },
    destroy() {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    },
  };
}
