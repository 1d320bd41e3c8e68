// graph.js - the dependency graph as SVG drawn here: a job's column is
// the length of the longest chain of parents above it, so every edge
// points rightwards; rows follow names. Built with createElementNS and
// textContent, like the rest of the page.

import {h, fill} from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 180, H = 34, GX = 70, GY = 18, PAD = 16;

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// Column of each job: 0 without parents, else 1 + its deepest parent's
// (a cycle, which the API refuses, would be cut at the job count).
function columns(jobs) {
  const byName = new Map(jobs.map(j => [j.name, j]));
  const col = new Map();
  const depth = (name, seen) => {
    if (col.has(name)) return col.get(name);
    const j = byName.get(name);
    if (!j || seen > jobs.length) return 0;
    const d = (j.parents || []).length
      ? 1 + Math.max(...j.parents.map(p => depth(p, seen + 1))) : 0;
    col.set(name, d);
    return d;
  };
  for (const j of jobs) depth(j.name, 0);
  return col;
}

export function renderGraph(main, jobs) {
  const col = columns(jobs);
  const rows = new Map(), pos = new Map();
  for (const j of jobs.slice().sort((a, b) => a.name.localeCompare(b.name))) {
    const c = col.get(j.name) || 0;
    const r = rows.get(c) || 0;
    rows.set(c, r + 1);
    pos.set(j.name, {x: PAD + c * (W + GX), y: PAD + r * (H + GY)});
  }
  const width = PAD * 2 + Math.max(1, rows.size) * (W + GX) - GX;
  const height = PAD * 2 + Math.max(1, ...rows.values()) * (H + GY) - GY;
  const root = svg('svg', {class: 'graph', id: 'graph', width, height,
                           viewBox: `0 0 ${width} ${height}`, role: 'img',
                           'aria-label': 'job dependency graph'});
  const marker = svg('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
                                markerWidth: 7, markerHeight: 7, orient: 'auto'});
  marker.append(svg('path', {d: 'M0,0 L10,5 L0,10 z'}));
  root.append(svg('defs'));
  root.firstChild.append(marker);
  for (const j of jobs) {
    for (const p of j.parents || []) {
      const a = pos.get(p), b = pos.get(j.name);
      if (!a || !b) continue;
      root.append(svg('line', {x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2,
                               'marker-end': 'url(#arrow)', 'data-edge': `${p}>${j.name}`}));
    }
  }
  for (const j of jobs) {
    const {x, y} = pos.get(j.name);
    const a = svg('a', {href: '#/jobs/' + encodeURIComponent(j.name)});
    const g = svg('g', {class: `${j.status}${j.disabled ? ' disabled' : ''}`, 'data-node': j.name});
    g.append(svg('rect', {x, y, width: W, height: H}),
             svg('text', {x: x + 10, y: y + H / 2 + 4}, j.name.length > 24 ? j.name.slice(0, 23) + '…' : j.name));
    g.firstChild.append(svg('title', {}, `${j.name}: ${j.status}, ${j.state}`));
    a.append(g);
    root.append(a);
  }
  fill(main, h('h1', {}, 'Dependency graph'),
    jobs.length ? root : h('p', {class: 'empty'}, 'No jobs.'),
    h('p', {class: 'muted'}, 'An arrow goes from a parent to the job that runs after it.'));
}
