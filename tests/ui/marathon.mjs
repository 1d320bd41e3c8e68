// marathon.mjs - marathon.so's UI in headless Chromium (run by run.mjs,
// against its cluster: a real master with marathon.so on a port of its
// own, a real agent).
//
// The seed's bbotte app is created through the Create Application form,
// seen Running 1/1 (as GET v2/apps/bbotte says) on the plugin's port and
// under /marathon/ on the master's (v2/events open under both); its page
// shows its task as the API does; JSON Mode scales it to 3, which its
// page shows live, and the list shows 3/3; an invalid ID shows the
// server's own 422 message beside the ID field, and beside the editor
// in JSON Mode; Kill, Suspend, Scale, Restart, an Edit in the form and
// a version's Roll back do what the API then says; an app too big for the agent is Waiting, with
// the queue's figures and its deployment's steps, and Rollback removes
// it; a failing app's page shows its last task failure; Destroy removes
// bbotte from the list and from v2/apps.

const SEED = {id: 'bbotte', cpus: '0.1', mem: '32', disk: '0', instances: '1',
              cmd: 'echo bbotte.com; sleep 30'};

export function marathonChecks({assert, shot, waitFor}) {
  const api = async (c, p, init) => {
    const r = await fetch(c.marathon + p, init);
    return {status: r.status, body: await r.json().catch(() => null)};
  };

  async function fillForm(page, def) {
    await page.click('#create');
    await page.waitForSelector('#app-dialog[open] #f-id');
    for (const [k, v] of Object.entries(def)) await page.fill('#f-' + k, v);
  }

  // The list row's status and running/total once they are `want`.
  async function rowSays(page, id, status, instances) {
    const row = `#apps tr[data-app="/${id}"]`;
    await page.waitForFunction(([row, status, instances]) => {
      const r = document.querySelector(row);
      return r && r.querySelector('[data-status]').dataset.status === status &&
        r.querySelector('[data-instances]').textContent === instances;
    }, [row, status, instances], {timeout: 30000});
  }

  async function apiSays(c, running, instances) {
    await waitFor(async () => {
      const {body} = await api(c, '/v2/apps/bbotte');
      return body.app.tasksRunning === running && body.app.instances === instances &&
        body.app.deployments.length === 0;
    }, `v2/apps/bbotte at ${running}/${instances}`, 30000);
  }

  return {
    async marathon_create(page, c) {
      await page.goto(c.marathon + '/');
      await page.waitForSelector('#apps');
      await fillForm(page, SEED);
      await shot(page, 'marathon-create');
      await page.click('#app-submit');
      await page.waitForSelector('#app-dialog:not([open])', {state: 'attached'});
      await page.goto(c.marathon + '/#/');
      await rowSays(page, 'bbotte', 'Running', '1/1');
      await apiSays(c, 1, 1);
      const {body} = await api(c, '/v2/apps/bbotte');
      const a = body.app;
      assert(a.cmd === SEED.cmd && a.cpus === 0.1 && a.mem === 32 && a.disk === 0,
             `the form's definition: ${JSON.stringify(a)}`);
      await shot(page, 'marathon-apps');
      // The same files under /marathon/ on the master's port.
      await page.goto(c.base + '/marathon/');
      await rowSays(page, 'bbotte', 'Running', '1/1');
      await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    },

    async marathon_app(page, c) {
      await page.goto(c.marathon + '/');
      await page.click('#apps a[href="#/apps/bbotte"]');
      await page.waitForSelector('#tasks tbody tr[data-task]');
      const {body} = await api(c, '/v2/apps/bbotte/tasks');
      const t = body.tasks[0];
      const row = await page.textContent(`#tasks tr[data-task="${t.id}"]`);
      assert(row.includes(t.host) && row.includes(String(t.ports[0] ?? '')) && row.includes('TASK_RUNNING'),
             `the task row ${row} says what v2/apps/bbotte/tasks says: ${JSON.stringify(t)}`);
      assert((await page.textContent('#config')).includes(SEED.cmd), 'the configuration shows the command');
      await page.waitForSelector('#versions tbody tr');
      await shot(page, 'marathon-app');
      // JSON Mode: the whole definition, instances changed to 3.
      await page.click('#act-edit');
      await page.click('#json-mode');
      const def = JSON.parse(await page.inputValue('#json-editor'));
      assert(def.id === '/bbotte' && def.instances === 1 && !('tasks' in def),
             `JSON Mode edits the definition: ${JSON.stringify(def)}`);
      def.instances = 3;
      await page.fill('#json-editor', JSON.stringify(def, null, 2));
      await shot(page, 'marathon-json');
      await page.evaluate(() => { window.notReloaded = true; });
      await page.click('#app-submit');
      await page.waitForSelector('#app-dialog:not([open])', {state: 'attached'});
      // The app's page follows the deployment live (v2/events is open).
      await page.waitForFunction(() => document.querySelector('[data-instances="/bbotte"]')
        ?.textContent === '3/3', null, {timeout: 30000});
      assert(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
      assert((await page.textContent('#live')) === 'live', 'the event stream is not open');
      await apiSays(c, 3, 3);
      await page.goto(c.marathon + '/');
      await rowSays(page, 'bbotte', 'Running', '3/3');
    },

    async marathon_invalid(page, c) {
      await page.goto(c.marathon + '/');
      await page.waitForSelector('#apps');
      page.allowedErrors.push(/status of 422/);
      const bad = {...SEED, id: 'Bad_ID!'};
      await fillForm(page, bad);
      await page.click('#app-submit');
      await page.waitForSelector('[data-errors="id"] li');
      // What the server says to the same definition, sent directly.
      const {status, body} = await api(c, '/v2/apps', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({id: bad.id, cpus: 0.1, mem: 32, disk: 0, instances: 1, cmd: bad.cmd})});
      assert(status === 422, `the API answers ${status} to ${bad.id}`);
      const want = body.details.find(d => d.path === '/id').errors;
      const shown = await page.$$eval('[data-errors="id"] li', ls => ls.map(l => l.textContent));
      assert(JSON.stringify(shown) === JSON.stringify(want), `beside the ID: ${shown}, API: ${want}`);
      assert((await page.textContent('#form-message')) === body.message, 'the message on top');
      await shot(page, 'marathon-invalid');
      await page.click('#json-mode');
      await page.click('#app-submit');
      await page.waitForSelector('#json-errors li[data-path="/id"]');
      const inJson = await page.textContent('#json-errors');
      assert(want.every(w => inJson.includes(w)), `beside the editor: ${inJson}`);
      const {body: apps} = await api(c, '/v2/apps');
      assert(!apps.apps.some(a => a.id === '/' + bad.id), 'the invalid app was not created');
    },

    // Kill a task (Marathon starts another), Suspend (0/0), Scale to 1,
    // Restart (a new task): each as the API then says.
    async marathon_actions(page, c) {
      const tasks = async () => (await api(c, '/v2/apps/bbotte/tasks')).body.tasks.map(t => t.id);
      await page.goto(c.marathon + '/#/apps/bbotte');
      await page.waitForFunction(() => document.querySelectorAll('#tasks tr[data-task]').length === 3);
      const [victim] = await tasks();
      await page.click(`#tasks tr[data-task="${victim}"] button:text-is("Kill")`);
      await waitFor(async () => { const t = await tasks(); return t.length === 3 && !t.includes(victim); },
                    'a replacement for the killed task', 30000);
      await page.waitForFunction(v => !document.querySelector(`#tasks tr[data-task="${v}"]`) &&
        document.querySelectorAll('#tasks tr[data-task]').length === 3, victim);
      await page.click('#act-suspend');
      await page.waitForFunction(() => document.querySelector('[data-status]')?.dataset.status === 'Suspended' &&
        document.querySelector('[data-instances="/bbotte"]').textContent === '0/0', null, {timeout: 30000});
      await apiSays(c, 0, 0);
      await page.fill('#scale-to', '1');
      await page.click('#act-scale');
      await page.waitForFunction(() => document.querySelector('[data-status]')?.dataset.status === 'Running' &&
        document.querySelector('[data-instances="/bbotte"]').textContent === '1/1', null, {timeout: 30000});
      await apiSays(c, 1, 1);
      const [before] = await tasks();
      await page.click('#act-restart');
      await waitFor(async () => { const t = await tasks(); return t.length === 1 && t[0] !== before; },
                    'the restarted task', 30000);
      await apiSays(c, 1, 1);
      const [after] = await tasks();
      await page.waitForSelector(`#tasks tr[data-task="${after}"]`, {timeout: 30000});
      // Edit in the form: two ports (the stale `ports` of the app as read
      // must not go with them), the rest of the definition kept.
      await page.click('#act-edit');
      await page.fill('#f-ports', '0, 0');
      await page.click('#app-submit');
      await page.waitForSelector('#app-dialog:not([open])', {state: 'attached'});
      await waitFor(async () => {
        const a = (await api(c, '/v2/apps/bbotte')).body.app;
        return a.portDefinitions.length === 2 && a.deployments.length === 0 && a.tasksRunning === 1;
      }, 'two ports', 30000);
      const a = (await api(c, '/v2/apps/bbotte')).body.app;
      assert(a.cmd === SEED.cmd && a.mem === 32, `the edit kept the rest: ${JSON.stringify(a)}`);
      // Roll back to the version before the edit: one port again.
      const {versions} = (await api(c, '/v2/apps/bbotte/versions')).body;
      const back = `#versions button[data-version="${versions[1]}"]`;
      await page.waitForSelector(back);
      await page.click(back);
      await waitFor(async () => {
        const b = (await api(c, '/v2/apps/bbotte')).body.app;
        return b.portDefinitions.length === 1 && b.deployments.length === 0 && b.tasksRunning === 1;
      }, 'the rollback to one port', 30000);
    },

    // An app no agent can hold waits in the launch queue: Waiting, the
    // queue's figures on its page, its deployment listed with its
    // steps; Rollback undoes the deployment, which removes the app.
    async marathon_waiting(page, c) {
      const {status} = await api(c, '/v2/apps', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({id: 'ui-big', cmd: 'sleep 600', cpus: 64, mem: 32, instances: 1})});
      assert(status === 201, `POST ui-big: ${status}`);
      await page.goto(c.marathon + '/');
      await rowSays(page, 'ui-big', 'Waiting', '0/1');
      const queue = (await api(c, '/v2/queue')).body.queue.find(q => q.app.id === '/ui-big');
      assert(queue && queue.delay.overdue, `v2/queue: ${JSON.stringify(queue)}`);
      await page.click('#apps a[href="#/apps/ui-big"]');
      await page.waitForSelector('#queue-info');
      const info = await page.textContent('#queue-info');
      assert(info.includes(`${queue.count} instance`), 'the queue info says how many wait');
      // Why offers were declined, as the queue says (once one came).
      await page.waitForFunction(() => document.querySelector('#queue-info').textContent.includes('Declined'));
      const q2 = (await api(c, '/v2/queue')).body.queue.find(q => q.app.id === '/ui-big');
      const reasons = q2.processedOffersSummary.rejectSummaryLastOffers.filter(r => r.declined);
      const shownNow = await page.textContent('#queue-info');
      assert(reasons.length && reasons.every(r => shownNow.includes(`Declined: ${r.reason}`)),
             `declines ${JSON.stringify(reasons)} in ${shownNow}`);
      await shot(page, 'marathon-waiting');
      const deps = (await api(c, '/v2/deployments')).body;
      const d = deps.find(x => x.affectedApps.includes('/ui-big'));
      assert(d, `v2/deployments: ${JSON.stringify(deps)}`);
      await page.click('.top a[data-page="deployments"]');
      const row = `#deployments tr[data-deployment="${d.id}"]`;
      await page.waitForSelector(row);
      const steps = await page.$$eval(`${row} ol.steps li`, ls => ls.length);
      assert(steps === d.steps.length, `${steps} steps shown, API ${d.steps.length}`);
      await shot(page, 'marathon-deployments');
      await page.click(`${row} button:text-is("Rollback")`);
      await waitFor(async () => (await api(c, '/v2/apps/ui-big')).status === 404, 'the rollback');
      await page.waitForSelector(row, {state: 'detached'});
      await page.goto(c.marathon + '/');
      await page.waitForSelector('#apps tr[data-app="/bbotte"]');
      assert(!(await page.$('#apps tr[data-app="/ui-big"]')), 'ui-big is still listed');
    },

    // An app whose task fails: its page shows the last failure as
    // v2/apps?embed=apps.lastTaskFailure gives it.
    async marathon_failure(page, c) {
      const {status} = await api(c, '/v2/apps', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({id: 'ui-fail', cmd: 'echo failing; exit 3', cpus: 0.1, mem: 16})});
      assert(status === 201, `POST ui-fail: ${status}`);
      const f = await waitFor(async () =>
        (await api(c, '/v2/apps/ui-fail?embed=app.lastTaskFailure')).body.app.lastTaskFailure,
        'a task failure', 30000);
      await page.goto(c.marathon + '/#/apps/ui-fail');
      await page.waitForSelector('#last-failure');
      // The app keeps failing (with a backoff): the page shows the
      // API's latest failure, its task, state and host.
      await waitFor(async () => {
        const g = (await api(c, '/v2/apps/ui-fail?embed=app.lastTaskFailure')).body.app.lastTaskFailure;
        const shown = await page.textContent('#last-failure');
        return [g.taskId, g.state, g.host].every(x => shown.includes(x));
      }, `the last failure (first ${JSON.stringify(f)})`, 15000);
      await shot(page, 'marathon-failure');
      await api(c, '/v2/apps/ui-fail?force=true', {method: 'DELETE'});
      await waitFor(async () => (await api(c, '/v2/apps/ui-fail')).status === 404, 'ui-fail gone');
    },

    async marathon_destroy(page, c) {
      await page.goto(c.marathon + '/#/apps/bbotte');
      await page.waitForSelector('#tasks tbody tr[data-task]');
      page.once('dialog', d => d.accept());
      await page.click('#act-destroy');
      await page.waitForFunction(() => location.hash === '#/' &&
        document.querySelector('#apps') && !document.querySelector('#apps tr[data-app="/bbotte"]'));
      await waitFor(async () => (await api(c, '/v2/apps/bbotte')).status === 404, 'bbotte gone');
      const {body} = await api(c, '/v2/apps');
      assert(!body.apps.some(a => a.id === '/bbotte'), 'v2/apps still lists bbotte');
      // Still gone after the next refresh (the list is not stale).
      await page.reload();
      await page.waitForSelector('#apps tbody tr');
      assert(!(await page.$('#apps tr[data-app="/bbotte"]')), 'the list shows bbotte after a reload');
    },
  };
}
