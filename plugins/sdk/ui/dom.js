// dom.js - building the page's elements. Data only ever becomes text
// (textContent, attributes through setAttribute): nothing the server
// says is parsed as markup. Shared by the master's UI and every
// plugin's (the SDK's ui/ directory, embedded beside each page's own
// files by agora_embed: each page is served from its own origin).

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

// A bar filled to used/total (CSSOM width: allowed by the page's CSP).
export function bar(used, total) {
  const fillEl = h('span');
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  fillEl.style.width = pct.toFixed(1) + '%';
  return h('div', {class: 'bar', role: 'meter', 'aria-valuemin': 0,
                   'aria-valuemax': total, 'aria-valuenow': used}, fillEl);
}

export function stateTag(state) {
  return h('span', {class: 'state ' + state}, state);
}

export function bytes(n) {
  if (n >= 1 << 20) return num(n / (1 << 20)) + ' MB';
  if (n >= 1 << 10) return num(n / (1 << 10)) + ' KB';
  return n + ' B';
}

export function duration(secs) {
  secs = Math.max(0, Math.floor(secs || 0));
  const d = Math.floor(secs / 86400), hr = Math.floor(secs / 3600) % 24;
  const m = Math.floor(secs / 60) % 60, s = secs % 60;
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function time(secs) {
  if (!secs) return '';
  return new Date(secs * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// A link handled by the page's router (app.js listens for data-nav).
export function link(href, text) {
  return h('a', {href, 'data-nav': true}, text);
}

// The page's error banner, made before `before` on first use; '' hides it.
export function banner(before, msg) {
  let el = document.getElementById('banner');
  if (!el) {
    el = h('p', {id: 'banner', class: 'error', role: 'alert'});
    document.body.insertBefore(el, before);
  }
  el.textContent = msg;
  el.hidden = !msg;
}

// The top bar's link to page `name` marked current, the others not.
export function markNav(name) {
  for (const a of document.querySelectorAll('.top nav a')) {
    a.classList.toggle('current', a.dataset.page === name);
  }
}
