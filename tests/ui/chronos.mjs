// chronos.mjs - chronos.so's UI in headless Chromium (run by run.mjs,
// against its cluster: a real master with chronos.so on a port of its
// own, a real agent).
//
// A job `echo hi` every 2 s (R/<now>/PT2S) is created through the New
// Job form, whose preview lists five runs 2 s apart on the schedule's
// grid; the list says "every 2 seconds" and its success count rises and
// stays at most what GET v1/scheduler/jobs says. A cron schedule's
// preview is the scheduler's (v1/scheduler/next). A dependent job made
// through the form is an edge of the graph. Edit changes the command
// and keeps the rest. Disable stops the runs
// (v1/scheduler/jobs says disabled), and the job's stats are then the
// API's (v1/scheduler/job/stat); Run now runs the child once more,
// and Delete removes both jobs from the list and from the API.

const JOB = 'ui-hi', CHILD = 'ui-after';

export function chronosChecks({assert, shot, waitFor, sleep}) {
  const api = async (c, p, init) => {
    const r = await fetch(c.chronos + '/v1/scheduler/' + p, init);
    return {status: r.status, body: await r.json().catch(() => null)};
  };
  const apiJob = async (c, name) => (await api(c, 'jobs')).body.find(j => j.name === name);
  const shown = async (page, sel) => Number(await page.textContent(sel));

  async function newJob(page, fields, kind = 'iso') {
    await page.click('#new-job');
    await page.waitForSelector('#job-dialog[open] #j-name');
    await page.selectOption('#j-kind', kind);
    for (const [k, v] of Object.entries(fields)) await page.fill('#j-' + k, v);
  }

  return {
    async chronos_create(page, c) {
      await page.goto(c.chronos + '/');
      await page.waitForSelector('#jobs');
      const start = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await newJob(page, {name: JOB, command: 'echo hi', owner: 'ops@example.com',
                          schedule: `R/${start}/PT2S`, cpus: '0.1', mem: '32'});
      // The preview: five runs, 2 s apart, on the schedule's grid.
      await page.waitForFunction(() => document.querySelectorAll('#j-preview li[data-time]').length === 5);
      const times = (await page.$$eval('#j-preview li', ls => ls.map(l => l.dataset.time))).map(Date.parse);
      const t0 = Date.parse(start);
      assert(times.every((t, i) => (t - t0) % 2000 === 0 && (i === 0 || t - times[i - 1] === 2000)),
             `the preview ${times.map(t => new Date(t).toISOString())}`);
      await shot(page, 'chronos-new');
      await page.click('#j-submit');
      await page.waitForFunction(n => location.hash === '#/jobs/' + n, JOB);
      const j = await apiJob(c, JOB);
      assert(j && j.command === 'echo hi' && j.owner === 'ops@example.com' && j.cpus === 0.1 &&
             j.mem === 32 && j.schedule.endsWith('/PT2S'), `the form's job: ${JSON.stringify(j)}`);
      await page.goto(c.chronos + '/');
      const cell = `#jobs [data-success="${JOB}"]`;
      await page.waitForFunction(s => Number(document.querySelector(s)?.textContent) >= 1, cell,
                                 {timeout: 20000});
      // It rises without a reload, and never runs ahead of the API.
      const first = await shown(page, cell);
      await page.waitForFunction(([s, n]) => Number(document.querySelector(s).textContent) > n,
                                 [cell, first], {timeout: 20000});
      const onPage = await shown(page, cell);
      const inApi = (await apiJob(c, JOB)).successCount;
      assert(onPage <= inApi && inApi - onPage <= 2, `page ${onPage} successes, API ${inApi}`);
      await page.waitForFunction(([s, n]) => Number(document.querySelector(s).textContent) >= n,
                                 [cell, inApi]);
      const row = await page.textContent(`#jobs tr[data-job="${JOB}"]`);
      assert(row.includes('every 2 seconds') && row.includes('success'), `the row: ${row}`);
      await shot(page, 'chronos-jobs');
      // The same files under /chronos/ on the master's port.
      await page.goto(c.base + '/chronos/');
      await page.waitForSelector(`#jobs tr[data-job="${JOB}"] [data-status="success"]`);
    },

    async chronos_preview(page, c) {
      await page.goto(c.chronos + '/');
      await page.waitForSelector('#jobs');
      await newJob(page, {schedule: '30 2 * * *', tz: 'Europe/Paris'}, 'cron');
      await page.waitForFunction(() => document.querySelectorAll('#j-preview li[data-time]').length === 5);
      const onPage = await page.$$eval('#j-preview li', ls => ls.map(l => l.dataset.time));
      const q = new URLSearchParams({schedule: 'cron:30 2 * * *', timezone: 'Europe/Paris'});
      const {body} = await api(c, 'next?' + q);
      assert(JSON.stringify(onPage) === JSON.stringify(body.next), `preview ${onPage}, API ${body.next}`);
      const first = await page.textContent('#j-preview li');
      assert(first.includes('02:30:00'), `shown in the job's zone: ${first}`);
      // A schedule that does not parse: the scheduler's reason.
      page.allowedErrors.push(/status of 400/);
      await page.fill('#j-schedule', '61 2 * * *');
      await page.waitForSelector('#j-preview li.error');
    },

    async chronos_graph(page, c) {
      await page.goto(c.chronos + '/');
      await page.waitForSelector(`#jobs tr[data-job="${JOB}"]`);
      await newJob(page, {name: CHILD, command: 'echo after', parents: JOB, cpus: '0.1', mem: '32'},
                   'dependent');
      await page.click('#j-submit');
      await page.waitForFunction(n => location.hash === '#/jobs/' + n, CHILD);
      const j = await apiJob(c, CHILD);
      assert(j && JSON.stringify(j.parents) === JSON.stringify([JOB]), `the child: ${JSON.stringify(j)}`);
      await page.goto(c.chronos + '/#/graph');
      await page.waitForSelector(`#graph line[data-edge="${JOB}>${CHILD}"]`, {state: 'attached'});
      const nodes = await page.$$eval('#graph [data-node]', gs => gs.map(g => g.dataset.node).sort());
      const names = (await api(c, 'jobs')).body.map(x => x.name).sort();
      assert(JSON.stringify(nodes) === JSON.stringify(names), `graph ${nodes}, API ${names}`);
      await shot(page, 'chronos-graph');
    },

    async chronos_job(page, c) {
      await page.goto(`${c.chronos}/#/jobs/${JOB}`);
      await page.waitForSelector('#runs tbody tr td');
      await page.waitForSelector('#next-runs li');
      await shot(page, 'chronos-job');
      // Edit: the form holds the job; a new command is what the API has.
      await page.click('#act-edit');
      assert((await page.inputValue('#j-command')) === 'echo hi', 'the edit form holds the command');
      await page.fill('#j-command', 'echo hi again');
      await page.click('#j-submit');
      await waitFor(async () => (await apiJob(c, JOB)).command === 'echo hi again', 'the edit');
      const edited = await apiJob(c, JOB);
      assert(edited.owner === 'ops@example.com' && edited.mem === 32 && edited.schedule.endsWith('/PT2S'),
             `the edit kept the rest: ${JSON.stringify(edited)}`);
      // Disable: the API says so and the runs stop.
      await page.click('#act-disable');
      await waitFor(async () => (await apiJob(c, JOB)).disabled === true, 'the job disabled');
      await page.waitForFunction(() => document.querySelector('#act-disable').textContent === 'Enable');
      await sleep(2200); // a run launched before the change may still end
      const before = (await apiJob(c, JOB)).successCount;
      await sleep(3000); // one and a half periods
      assert((await apiJob(c, JOB)).successCount === before, 'a disabled job kept running');
      // Its stats, now still: the page's are the API's.
      const stat = (await api(c, 'job/stat/' + JOB)).body;
      await page.waitForFunction(([n, rows]) => {
        const dds = [...document.querySelectorAll('#stats dt')];
        const count = dds.find(dt => dt.textContent === 'count');
        return count && count.nextElementSibling.textContent === String(n) &&
          document.querySelectorAll('#runs tbody tr').length === rows;
      }, [stat.histogram.count, stat.taskStatHistory.length]);
      const first = await page.textContent('#runs tbody tr td');
      assert(first === stat.taskStatHistory[0].taskId, `first run ${first}, API ${stat.taskStatHistory[0].taskId}`);
      // Run now: the child, whose parent no longer runs, runs once.
      await page.goto(`${c.chronos}/#/jobs/${CHILD}`);
      await page.waitForFunction(() => document.querySelector('h1 .status'));
      const child = (await apiJob(c, CHILD)).successCount;
      await page.click('#act-run');
      await waitFor(async () => (await apiJob(c, CHILD)).successCount === child + 1, 'the manual run',
                    20000);
      await page.waitForFunction(n => Number(document.querySelector('#job-success').textContent) === n,
                                 child + 1);
      // Delete both: gone from the API and from the list.
      for (const name of [CHILD, JOB]) {
        await page.goto(`${c.chronos}/#/jobs/${name}`);
        await page.waitForSelector('#act-delete');
        await page.waitForFunction(() => document.querySelector('h1 .status'));
        page.once('dialog', d => d.accept());
        await page.click('#act-delete');
        await page.waitForFunction(n => location.hash === '#/' &&
          document.querySelector('#jobs') && !document.querySelector(`#jobs tr[data-job="${n}"]`), name);
        assert(!(await apiJob(c, name)), `${name} is still in v1/scheduler/jobs`);
      }
    },
  };
}
