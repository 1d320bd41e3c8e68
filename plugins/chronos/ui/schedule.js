// schedule.js - a job's schedule in words and its times in its zone.

const UNITS = [['Y', 'year'], ['M', 'month'], ['W', 'week'], ['D', 'day']];
const TUNITS = [['H', 'hour'], ['M', 'minute'], ['S', 'second']];

function plural(n, unit) {
  return n === 1 ? unit : `${n} ${unit}s`;
}

// "P1DT2H" -> "1 day 2 hours"; null when it is not a period.
export function periodWords(p) {
  const m = /^P(?:([\d.]+)Y)?(?:([\d.]+)M)?(?:([\d.]+)W)?(?:([\d.]+)D)?(?:T(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?)?$/.exec(p || '');
  if (!m) return null;
  const parts = [];
  UNITS.forEach(([, unit], i) => { if (m[i + 1]) parts.push(plural(Number(m[i + 1]), unit)); });
  TUNITS.forEach(([, unit], i) => { if (m[i + 5]) parts.push(plural(Number(m[i + 5]), unit)); });
  return parts.join(' ') || '0 seconds';
}

// "R/2026-...Z/PT2S" -> "every 2 seconds"; "R3/.../P1D" -> "3 times,
// every day"; "cron:0 2 * * *" -> "at 02:00 every day".
export function scheduleWords(job) {
  if (job.parents && job.parents.length) return `after ${job.parents.join(' and ')}`;
  const s = job.schedule || '';
  if (s.startsWith('cron:')) return cronWords(s.slice(5).trim());
  const [r, , p] = s.split('/');
  const every = periodWords(p);
  if (!r || every === null) return s;
  const n = r === 'R' || r === 'R-1' ? -1 : Number(r.slice(1));
  if (n === 0) return 'no more runs';
  if (n === 1) return 'once';
  return (n > 0 ? `${n} times, ` : '') + 'every ' + every.replace(/^1 /, '');
}

function cronWords(expr) {
  const f = expr.split(/\s+/);
  const two = x => String(x).padStart(2, '0');
  if (f.length === 5 && /^\d+$/.test(f[0]) && /^\d+$/.test(f[1]) && f[3] === '*') {
    const at = `at ${two(f[1])}:${two(f[0])}`;
    if (f[2] === '*' && f[4] === '*') return `${at} every day`;
    if (f[2] === '*' && /^[0-6](,[0-6])*$/.test(f[4])) {
      const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
      return `${at} on ${f[4].split(',').map(d => days[d]).join(', ')}`;
    }
    if (/^\d+$/.test(f[2]) && f[4] === '*') return `${at} on day ${f[2]} of each month`;
  }
  if (f.length === 5 && /^\*\/\d+$/.test(f[0]) && f.slice(1).every(x => x === '*')) {
    return `every ${plural(Number(f[0].slice(2)), 'minute')}`;
  }
  return `cron ${expr}`;
}

// The start of an ISO schedule: when it runs next ("" for cron and
// dependent jobs: the scheduler answers for those, v1/scheduler/next).
export function isoStart(job) {
  const s = job.schedule || '';
  if (s.startsWith('cron:') || (job.parents && job.parents.length)) return '';
  const parts = s.split('/');
  return parts.length === 3 && !/^R0$/.test(parts[0]) && !job.disabled ? parts[1] : '';
}

// An instant as the wall clock of zone (UTC when none or unknown).
export function inZone(iso, zone) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const fmt = tz => new Intl.DateTimeFormat('en-CA', {timeZone: tz, year: 'numeric',
    month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    hourCycle: 'h23', timeZoneName: 'short'}).format(d).replace(',', '');
  try {
    return fmt(zone || 'UTC');
  } catch (e) {
    return fmt('UTC');
  }
}
