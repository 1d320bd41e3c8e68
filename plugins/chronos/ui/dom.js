// dom.js - building the page's elements. Data only ever becomes text
// (textContent, attributes through setAttribute): nothing the server
// says is parsed as markup. (marathon's UI and the master's have the same
// helpers; each page is served from its own origin, so each carries them.)

// h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child...) -> element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// Replaces el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A table: columns [{label, num}], rows of cells (or {attrs, cells}).
export function table(columns, rows, empty, attrs) {
  const head = h('tr', {}, columns.map(c => h('th', {class: c.num ? 'num' : null}, c.label)));
  const body = rows.length
    ? rows.map(r => {
        const cells = Array.isArray(r) ? r : r.cells;
        return h('tr', Array.isArray(r) ? {} : r.attrs, cells.map((cell, i) =>
          h('td', {class: columns[i].num ? 'num' : null}, cell)));
      })
    : [h('tr', {}, h('td', {colspan: columns.length, class: 'empty'}, empty))];
  return h('table', attrs || {}, h('thead', {}, head), h('tbody', {}, body));
}

// A definition list of [label, value] pairs.
export function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A bar of segments [{n, cls, title}] over total (CSSOM widths: the
// page's CSP forbids style attributes, not element.style).
export function segments(parts, total) {
  const el = h('div', {class: 'bar', role: 'img'});
  for (const p of parts) {
    if (!p.n || total <= 0) continue;
    const s = h('span', {class: p.cls, title: `${p.n} ${p.title}`});
    s.style.width = Math.min(100, (100 * p.n) / total).toFixed(1) + '%';
    el.append(s);
  }
  el.setAttribute('aria-label', parts.map(p => `${p.n || 0} ${p.title}`).join(', '));
  return el;
}

// 1.5 -> "1.5", 2 -> "2".
export function num(x) {
  if (typeof x !== 'number' || !isFinite(x)) return '0';
  return String(Math.round(x * 1000) / 1000);
}

export function mb(x) {
  if (typeof x !== 'number') return '0 MB';
  return x >= 1024 ? num(x / 1024) + ' GB' : num(x) + ' MB';
}

// An ISO timestamp as "2026-12-07 04:21:17Z" (the API's own zone).
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
