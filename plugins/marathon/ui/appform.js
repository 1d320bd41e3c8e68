// appform.js - the Create Application dialog (and Edit, the same form
// on an existing app): fields for the common parts of a definition and
// a JSON Mode that edits the whole definition as text. Both edit one
// object, so switching keeps what was typed. The server validates: its
// 422 details are shown beside the field whose JSON path they name, or
// beside the editor in JSON Mode.

import {h, fill} from './dom.js';
import {call, appPath, definition} from './api.js';

// "K=V" lines <-> {K: V}.
function readPairs(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n');
}
function writePairs(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i < 0) out[t] = '';
    else out[t.slice(0, i).trim()] = t.slice(i + 1);
  }
  return out;
}

// A number field: what was typed goes to the server as typed when it is
// not a number, so the server's message, not ours, says what is wrong.
function numberField(key, label, step) {
  return {key, label, path: '/' + key, type: 'number', step,
    read: d => (d[key] === undefined ? '' : String(d[key])),
    write: (d, s) => { if (s === '') delete d[key]; else d[key] = isNaN(Number(s)) ? s : Number(s); }};
}

const HC_PROTOCOLS = ['', 'HTTP', 'TCP', 'COMMAND'];

// Each field reads its text from a definition and writes it back; a
// field is written only when its text changed, so what the form does
// not show (constraints, fetch, upgradeStrategy...) is kept.
const FIELDS = [
  {key: 'id', label: 'ID', path: '/id', read: d => d.id || '',
   write: (d, s) => { d.id = s; }},
  numberField('cpus', 'CPUs', '0.1'),
  numberField('mem', 'Memory (MiB)', '1'),
  numberField('disk', 'Disk (MiB)', '1'),
  numberField('instances', 'Instances', '1'),
  {key: 'cmd', label: 'Command', path: '/cmd', area: true, read: d => d.cmd || '',
   write: (d, s) => { if (s) d.cmd = s; else delete d.cmd; }},
  {key: 'image', label: 'Docker image', path: '/container',
   read: d => (d.container && d.container.docker && d.container.docker.image) || '',
   write: (d, s) => {
     if (!s) { delete d.container; return; }
     const c = d.container || {};
     d.container = {...c, type: c.type || 'DOCKER', docker: {...(c.docker || {}), image: s}};
   }},
  {key: 'ports', label: 'Ports', path: '/portDefinitions', hint: 'comma-separated, 0 for any',
   read: d => (d.portDefinitions || []).map(p => p.port).join(', '),
   write: (d, s) => {
     const ports = s.split(',').map(x => x.trim()).filter(Boolean);
     // An app as read carries the deprecated `ports` too: a stale copy
     // beside new definitions is "cannot specify both".
     delete d.ports;
     d.portDefinitions = ports.map(p => ({port: isNaN(Number(p)) ? p : Number(p), protocol: 'tcp'}));
   }},
  {key: 'env', label: 'Environment', path: '/env', area: true, hint: 'NAME=value, one a line',
   read: d => readPairs(d.env), write: (d, s) => { d.env = writePairs(s); }},
  {key: 'labels', label: 'Labels', path: '/labels', area: true, hint: 'KEY=value, one a line',
   read: d => readPairs(d.labels), write: (d, s) => { d.labels = writePairs(s); }},
];

// The health check: a protocol and its one argument (HTTP's path or the
// command); the first of the app's checks.
function readCheck(d) {
  const c = (d.healthChecks || [])[0];
  if (!c) return {protocol: '', value: ''};
  const protocol = (c.protocol || '').replace(/^MESOS_/, '');
  return {protocol, value: protocol === 'COMMAND' ? (c.command && c.command.value) || '' : c.path || ''};
}
function writeCheck(d, {protocol, value}) {
  const rest = (d.healthChecks || []).slice(1);
  if (!protocol) { d.healthChecks = rest; return; }
  const c = {protocol, gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20,
             maxConsecutiveFailures: 3};
  if (protocol === 'HTTP') Object.assign(c, {path: value || '/', portIndex: 0});
  if (protocol === 'TCP') c.portIndex = 0;
  if (protocol === 'COMMAND') c.command = {value};
  d.healthChecks = [c, ...rest];
}

export class AppForm {
  // dialog: the <dialog>; done(id): called after a successful save.
  constructor(dialog, done) {
    this.dialog = dialog;
    this.done = done;
  }

  // app: null to create, or the app to edit.
  open(app) {
    this.editing = app ? app.id : null;
    this.base = app ? definition(app) : {cpus: 1, mem: 128, disk: 0, instances: 1};
    this.json = false;
    this.build();
    this.dialog.showModal();
    this.inputs.id.focus();
  }

  build() {
    this.inputs = {};
    this.errors = {};
    const rows = FIELDS.map(f => {
      const attrs = {id: 'f-' + f.key, name: f.key, 'data-path': f.path};
      const input = f.area ? h('textarea', {...attrs, rows: 2})
        : h('input', {...attrs, type: f.type || 'text', step: f.step});
      if (f.key === 'id' && this.editing) input.readOnly = true;
      this.inputs[f.key] = input;
      return this.row(f.key, f.label, input, f.hint);
    });
    this.hcProtocol = h('select', {id: 'f-hc-protocol'},
      HC_PROTOCOLS.map(p => h('option', {value: p}, p || 'none')));
    this.hcValue = h('input', {id: 'f-hc-value', placeholder: 'HTTP path or command'});
    rows.push(this.row('healthChecks', 'Health check',
      h('span', {class: 'pair'}, this.hcProtocol, this.hcValue)));
    this.fieldsEl = h('div', {class: 'fields'}, rows);
    this.editor = h('textarea', {id: 'json-editor', rows: 22, spellcheck: 'false'});
    this.jsonErrors = h('ul', {id: 'json-errors', class: 'field-error'});
    this.jsonEl = h('div', {class: 'json', hidden: true}, this.editor, this.jsonErrors);
    this.message = h('p', {id: 'form-message', class: 'error', role: 'alert'});
    this.modeBtn = h('button', {type: 'button', id: 'json-mode', 'aria-pressed': 'false',
                                onclick: () => this.toggle()}, 'JSON Mode');
    const form = h('form', {method: 'dialog', onsubmit: e => { e.preventDefault(); this.save(); }},
      h('header', {class: 'dialog-head'},
        h('h2', {id: 'app-dialog-title'}, this.editing ? `Edit ${this.editing}` : 'New Application'),
        this.modeBtn),
      this.fieldsEl, this.jsonEl, this.message,
      h('footer', {class: 'dialog-foot'},
        h('button', {type: 'button', onclick: () => this.dialog.close()}, 'Cancel'),
        h('button', {type: 'submit', class: 'primary', id: 'app-submit'},
          this.editing ? 'Change and deploy' : 'Create Application')));
    fill(this.dialog, form);
    this.toForm(this.base);
  }

  row(key, label, control, hint) {
    const err = h('ul', {class: 'field-error', 'data-errors': key});
    this.errors[key] = err;
    return h('div', {class: 'field'},
      h('label', {for: control.id || null}, label), control,
      hint ? h('small', {class: 'muted'}, hint) : null, err);
  }

  toForm(d) {
    this.base = d;
    for (const f of FIELDS) this.inputs[f.key].value = f.read(d);
    const c = readCheck(d);
    this.hcProtocol.value = HC_PROTOCOLS.includes(c.protocol) ? c.protocol : '';
    this.hcValue.value = c.value;
  }

  // The definition the form says: the base with each changed field.
  fromForm() {
    const d = structuredClone(this.base);
    for (const f of FIELDS) {
      const s = this.inputs[f.key].value.trim();
      if (s !== f.read(this.base)) f.write(d, s);
    }
    const c = {protocol: this.hcProtocol.value, value: this.hcValue.value.trim()};
    const was = readCheck(this.base);
    if (c.protocol !== was.protocol || c.value !== was.value) writeCheck(d, c);
    return d;
  }

  // Form -> JSON keeps everything; JSON -> form refuses text that is not
  // a JSON object (the text stays for the user to fix).
  toggle() {
    this.clearErrors();
    if (!this.json) {
      this.editor.value = JSON.stringify(this.fromForm(), null, 2);
    } else {
      const d = this.parseEditor();
      if (!d) return;
      this.toForm(d);
    }
    this.json = !this.json;
    this.fieldsEl.hidden = this.json;
    this.jsonEl.hidden = !this.json;
    this.modeBtn.setAttribute('aria-pressed', String(this.json));
  }

  parseEditor() {
    try {
      const d = JSON.parse(this.editor.value);
      if (d && typeof d === 'object' && !Array.isArray(d)) return d;
      throw new Error('the definition must be a JSON object');
    } catch (e) {
      this.message.textContent = `Invalid JSON: ${e.message}`;
      return null;
    }
  }

  clearErrors() {
    this.message.textContent = '';
    fill(this.jsonErrors);
    for (const el of Object.values(this.errors)) fill(el);
  }

  async save() {
    this.clearErrors();
    const d = this.json ? this.parseEditor() : this.fromForm();
    if (!d) return;
    const submit = this.dialog.querySelector('#app-submit');
    submit.disabled = true;
    try {
      if (this.editing) await call('PUT', appPath(this.editing), d);
      else await call('POST', 'v2/apps', d);
      this.dialog.close();
      this.done(this.editing || d.id);
    } catch (e) {
      this.showError(e);
    } finally {
      submit.disabled = false;
    }
  }

  // The message on top; each detail beside the field its path starts
  // with (the longest such), or beside the editor in JSON Mode.
  showError(e) {
    this.message.textContent = e.message;
    for (const det of e.details || []) {
      const path = det.path || '/';
      const errs = (det.errors || []).map(x => h('li', {'data-path': path}, x));
      if (this.json) {
        this.jsonErrors.append(...(det.errors || []).map(x =>
          h('li', {'data-path': path}, h('code', {}, path), ' ', x)));
        continue;
      }
      let best = null;
      for (const f of FIELDS) {
        if ((path === f.path || path.startsWith(f.path + '/') || path.startsWith(f.path + '('))
            && (!best || f.path.length > best.path.length)) best = f;
      }
      if (!best && path.startsWith('/healthChecks')) best = {key: 'healthChecks'};
      if (best) this.errors[best.key].append(...errs);
      else this.message.append(h('span', {class: 'detail'}, ` ${path}: ${(det.errors || []).join('; ')}`));
    }
  }
}
