// hello's page: asks the plugin's own route (../, relative, so the page
// works on the plugin's port and under /hello/ on the master's) and shows
// the count. textContent only: nothing from the server becomes markup.
const count = document.getElementById('count');
const error = document.getElementById('error');

async function ask() {
  try {
    const r = await fetch('../', {headers: {Accept: 'application/json'}});
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const body = await r.json();
    count.textContent = String(body.count);
    error.hidden = true;
  } catch (e) {
    error.textContent = `cannot reach the plugin: ${e.message}`;
    error.hidden = false;
  }
}

document.getElementById('again').addEventListener('click', ask);
ask();
