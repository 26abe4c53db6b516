// Spindle's dashboard: a page of its own over the public HTTP API (docs/api.md, docs/dashboard.md).
// No framework and no build step: the files are compiled into the spindle binary as they are.
'use strict';

// ---- DOM and formatting ------------------------------------------------------------------------

// h('a', {href: '#/'}, 'text', child...): an element. Text goes in as text, never as HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
// Replaces el's children with `kids`, leaving out null, undefined and false.
function fill(el, ...kids) {
  el.replaceChildren(...kids.flat().filter(k => k !== null && k !== undefined && k !== false));
}
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const STATES = ['available', 'scheduled', 'running', 'retryable', 'waiting', 'stopped',
                'completed', 'failed', 'cancelled', 'expired'];

function num(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'); }
function dur(ms) {
  if (ms === null || ms === undefined) return '–';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)}ms`;
  if (a < 60e3) return `${(ms / 1e3).toFixed(a < 10e3 ? 1 : 0)}s`;
  if (a < 3600e3) return `${Math.round(ms / 60e3)}m`;
  if (a < 86400e3) return `${(ms / 3600e3).toFixed(1)}h`;
  return `${(ms / 86400e3).toFixed(1)}d`;
}
function ago(t) {
  if (!t) return '–';
  const ms = Date.now() - Date.parse(t);
  return ms >= 0 ? `${dur(ms)} ago` : `in ${dur(-ms)}`;
}
function when(t) { return t ? h('time', {datetime: t, title: t}, ago(t)) : '–'; }
function stateBadge(state) { return h('span', {class: `badge state-${state}`}, state); }
function shortId(id) { return id ? id.slice(-12) : '–'; }
function capital(text) { return `${text[0].toUpperCase()}${text.slice(1)}`; }
function plural(n, word) { return `${num(n)} ${word}${n === 1 ? '' : 's'}`; }
function firstLine(text) { return (text || '').split('\n')[0]; }
function jobLink(id) { return h('a', {href: `#/jobs/${encodeURIComponent(id)}`}, h('code', {}, shortId(id))); }
function table(head, rows, opts = {}) {
  return h('div', {class: 'table-wrap'},
    h('table', {'aria-label': opts.label || null},
      h('thead', {}, h('tr', {}, head.map(c => Array.isArray(c) ? h('th', {scope: 'col', class: c[1]}, c[0]) : h('th', {scope: 'col'}, c)))),
      h('tbody', {}, rows.length ? rows
        : h('tr', {}, h('td', {colspan: head.length, class: 'muted'}, opts.empty || 'Nothing here.')))));
}

// ---- The API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.reason ? body.reason : `HTTP ${status}`);
    this.status = status;
    this.error = body && body.error;
  }
}

const session = {
  token: sessionStorage.getItem('spindle.token') || '',
  info: null,  // {who, scope, read_only}
  can(scope) {
    if (!this.info || this.info.read_only) return false;
    const order = ['read', 'operate', 'admin'];
    return order.indexOf(this.info.scope) >= order.indexOf(scope);
  },
};

function headers(extra) {
  const out = Object.assign({}, extra);
  if (session.token) out.Authorization = `Bearer ${session.token}`;
  return out;
}

async function api(path, opts = {}) {
  const init = {method: opts.method || 'GET', headers: headers()};
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    offline(true);
    throw new ApiError(0, {reason: 'The server cannot be reached; the page tries again on its own.'});
  }
  offline(false);
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 401) { signIn(body && body.reason); throw new ApiError(401, body); }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

// A banner while the server cannot be reached (the event stream or a call failed).
function offline(on) {
  const el = document.getElementById('offline');
  if (el) el.hidden = !on;
}

// ---- Confirmation and operations ---------------------------------------------------------------

function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel || 'Confirm';
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise(resolve => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), {once: true}));
}

// Shows an operation's progress in `box` until it ends; resolves with its final state.
async function followOperation(box, op, label) {
  const bar = h('progress', {max: Math.max(op.total, 1), value: op.changed, 'aria-label': label});
  const text = h('span', {class: 'muted'});
  fill(box, h('div', {class: 'op', role: 'status'}, h('div', {}, label, ' ', text), bar));
  for (;;) {
    bar.max = Math.max(op.total, 1);
    bar.value = op.changed;
    text.textContent = `${num(op.changed)} of ${num(op.total)} — ${op.state}`;
    if (op.state !== 'running') break;
    await new Promise(r => setTimeout(r, 500));
    op = await api(`/operations/${op.id}`);
  }
  if (op.error) box.append(h('p', {class: 'error'}, op.error));
  return op;
}

// A page's frame: its title, a line for what an action did, and the box its content goes in.
function frame(el, title, ...intro) {
  const msg = h('div');
  const box = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  fill(el, h('h1', {}, title), ...intro, msg, box);
  return {msg, box};
}

function showError(box, e) {
  fill(box, h('p', {class: 'error', role: 'alert'}, e.message));
}

// ---- Live events: one stream per tab, closed while the tab is hidden ---------------------------

const live = {
  ctrl: null,
  el: null,
  set(text, cls) { this.el.textContent = text; this.el.className = `live ${cls}`; },
  // fetch rather than EventSource, which cannot send the token.
  async start() {
    if (this.ctrl || document.hidden) return;
    const ctrl = this.ctrl = new AbortController();
    let refused = null;  // the server answered, but not with a stream
    try {
      const res = await fetch('/api/v1/events/stream', {headers: headers(), signal: ctrl.signal});
      offline(false);
      if (res.status === 401) { signIn(); return; }
      if (!res.ok) { refused = res.status; throw new Error(`HTTP ${res.status}`); }
      this.set('live', 'on');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (let first = true; ; first = false) {
        const {value, done} = await reader.read();
        if (done) break;
        // The stream's first line comes once the server tracks changes: what is read now, and
        // the events after it, miss nothing (a change before it would be lost otherwise).
        if (first) view.refresh();
        buf += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).join('\n');
          const type = (block.split('\n').find(l => l.startsWith('event:')) || '').slice(6).trim();
          if (type === 'gap') { view.refresh(); continue; }
          if (data) { try { view.event(JSON.parse(data)); } catch (e) { console.warn(e); } }
        }
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
    }
    if (this.ctrl !== ctrl) return;
    this.ctrl = null;
    if (refused) {
      // 503: the server has as many streams open as it allows; the page still works, unlive.
      this.set(`no live updates (HTTP ${refused}), retrying`, 'off');
      setTimeout(() => this.start(), 10000);
      return;
    }
    offline(true);
    this.set('reconnecting', 'off');
    setTimeout(() => this.start(), 2000);
  },
  stop() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.set('paused', '');
  },
};

document.addEventListener('visibilitychange', () => {
  if (document.hidden) { live.stop(); return; }
  live.start();  // which reads the page again once connected
});

// ---- Pages -------------------------------------------------------------------------------------

// The page shown: render() fills `el`; event() takes live events; refresh() reads again.
const view = {
  page: null,
  event(ev) { if (this.page && this.page.event) this.page.event(ev); },
  refresh() { if (this.page && this.page.refresh) this.page.refresh(); },
};

// A refresh at most every `ms`, however many events ask for it.
function throttle(fn, ms) {
  let timer = null, again = false;
  return () => {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(() => { timer = null; if (again) { again = false; fn(); } }, ms);
  };
}

function sumJobs(queues) {
  const out = {};
  for (const q of queues) for (const [k, v] of Object.entries(q.jobs || {})) out[k] = (out[k] || 0) + v;
  return out;
}

// A sparkline of `values` (one per sample): the line, its area, and `fails` in red when given.
function spark(values, fails, label) {
  const w = 300, hgt = 40;
  const max = Math.max(1, ...values, ...(fails || []));
  const x = i => (values.length < 2 ? w : (i * w) / (values.length - 1));
  const y = v => hgt - 2 - (v / max) * (hgt - 4);
  const line = values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const svg = s('svg', {class: 'spark', viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label});
  if (values.length) {
    svg.append(s('path', {class: 'area', d: `${line}L${x(values.length - 1)},${hgt}L0,${hgt}Z`}));
    svg.append(s('path', {class: 'line', d: line}));
  }
  if (fails && fails.some(v => v > 0)) {
    svg.append(s('path', {class: 'fail', d: fails.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('')}));
  }
  return svg;
}

// Per sample, how many of a queue's jobs reached `state` since the sample before (counts shrink
// when old jobs are deleted: a negative step counts as none).
function deltas(samples, queue, state) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const a = ((samples[i - 1].queues[queue] || {}).jobs || {})[state] || 0;
    const b = ((samples[i].queues[queue] || {}).jobs || {})[state] || 0;
    out.push(Math.max(0, b - a));
  }
  return out;
}

const pages = {};

pages.overview = function (el) {
  const st = {cluster: null, queues: [], members: [], partitions: [], series: {samples: [], interval_ms: 10000}};
  const draw = () => {
    if (!st.cluster) return;
    const c = st.cluster;
    const total = sumJobs(st.queues);
    const banner = c.stopped
      ? h('div', {class: 'banner bad', role: 'alert'}, `The cluster is stopped${c.reason ? `: ${c.reason}` : ''} (since ${c.stopped_at})`)
      : null;
    const clusterCard = h('section', {class: 'card', 'aria-label': 'Cluster'},
      h('h3', {}, 'Cluster ', c.stopped ? h('span', {class: 'badge alert'}, 'stopped') : h('span', {class: 'badge ok'}, 'running')),
      h('dl', {class: 'kv'},
        h('dt', {}, 'Leader'), h('dd', {}, c.leader ? h('code', {}, c.leader) : h('span', {class: 'warn'}, 'none')),
        h('dt', {}, 'Members'), h('dd', {}, num(st.members.length)),
        h('dt', {}, 'Partitions'), h('dd', {}, st.partitions.length ? num(st.partitions.length) : 'not partitioned'),
        h('dt', {}, 'New jobs'), h('dd', {}, c.wakeups === 'notifications' ? 'notifications (LISTEN/NOTIFY)' : 'polling'),
        h('dt', {}, 'Jobs'), h('dd', {}, STATES.filter(k => total[k]).map(k => `${k} ${num(total[k])}`).join(' · ') || 'none')));
    const samples = st.series.samples;
    const cards = st.queues.map(q => {
      const done = deltas(samples, q.name, 'completed');
      const failed = deltas(samples, q.name, 'failed');
      const nDone = done.reduce((a, b) => a + b, 0), nFailed = failed.reduce((a, b) => a + b, 0);
      const spanMs = samples.length > 1 ? Date.parse(samples[samples.length - 1].at) - Date.parse(samples[0].at) : 0;
      const last = samples.length ? samples[samples.length - 1].queues[q.name] : null;
      const j = q.jobs || {};
      // Live counts, and the oldest's age from the last sample when no read gave its time: none
      // when nothing is available now, whatever the sample said.
      const oldest = !j.available ? null : q.oldest_available_at ? Date.now() - Date.parse(q.oldest_available_at)
        : last ? last.oldest_available_age_ms : null;
      const slots = (q.concurrency || 0) * (q.consumers || 0);
      const alert = q.no_consumer;
      return h('section', {class: `card${alert ? ' alert' : ''}`, 'aria-label': `Queue ${q.name}`, 'data-queue': q.name},
        h('h3', {}, h('a', {href: jobsHref(term('queue', q.name))}, q.name),
          q.paused ? h('span', {class: 'badge paused'}, 'paused') : null,
          alert ? h('span', {class: 'badge alert', role: 'alert'}, 'due work, no live consumer') : null),
        spark(done, failed, `Jobs completed per ${dur(st.series.interval_ms)} in queue ${q.name}`),
        h('div', {class: 'muted'}, spanMs ? `${num(nDone)} completed, ${num(nFailed)} failed in the last ${dur(spanMs)}` : 'no history yet'),
        h('div', {class: 'stats'},
          h('div', {class: 'stat'}, h('b', {'data-stat': 'available'}, num(j.available || 0)), 'available'),
          h('div', {class: 'stat', title: 'jobs running in the database: a finished one counts until its worker writes the outcome, a moment later'}, h('b', {'data-stat': 'running'}, num(j.running || 0)), `running of ${slots ? num(slots) : '–'} slots`),
          h('div', {class: 'stat'}, h('b', {class: oldest > 60000 ? 'warn' : null}, dur(oldest)), 'oldest available'),
          h('div', {class: 'stat', title: 'from run_at to start, the latest 100 completed jobs'}, h('b', {}, dur(last ? last.wait_p95_ms : null)), 'wait p95'),
          h('div', {class: 'stat', title: 'the latest 100 completed jobs'}, h('b', {}, dur(last ? last.run_p95_ms : null)), 'run p95'),
          h('div', {class: 'stat'}, h('b', {class: nFailed ? 'bad' : null}, nDone + nFailed ? `${((100 * nFailed) / (nDone + nFailed)).toFixed(1)}%` : '–'), 'failure rate'),
          h('div', {class: 'stat'}, h('b', {class: j.retryable ? 'warn' : null}, num(j.retryable || 0)), 'retryable'),
          h('div', {class: 'stat'}, h('b', {class: j.failed ? 'bad' : null}, num(j.failed || 0)), 'failed'),
          h('div', {class: 'stat'}, h('b', {}, num(j.scheduled || 0)), 'scheduled'),
          h('div', {class: 'stat', title: 'waiting jobs that will likely miss their deadline'}, h('b', {class: last && last.at_risk ? 'warn' : null}, last ? num(last.at_risk) : '–'), 'at risk'),
          h('div', {class: 'stat'}, h('b', {class: j.expired ? 'warn' : null}, num(j.expired || 0)), 'expired'),
          h('div', {class: 'stat'}, h('b', {class: q.consumers ? null : 'warn'}, num(q.consumers || 0)), 'consumers')));
    });
    fill(el, h('h1', {}, 'Overview'), banner, h('div', {class: 'grid'}, clusterCard),
      h('h2', {}, 'Queues'), cards.length ? h('div', {class: 'grid'}, cards) : h('p', {class: 'muted'}, 'No queues yet: enqueue a job or start a worker.'));
  };
  const loadSeries = async (since, append) => {
    const r = await api(`/stats/series${query({since})}`);
    st.series.interval_ms = r.interval_ms;
    st.series.samples = append ? st.series.samples.concat(r.samples.filter(x => x.at > since)) : r.samples;
    const keep = Math.ceil(3600e3 / r.interval_ms) + 1;  // the last hour
    if (st.series.samples.length > keep) st.series.samples = st.series.samples.slice(-keep);
  };
  const load = async () => {
    try {
      const since = new Date(Date.now() - 3600e3).toISOString();
      const [cluster, queues, workers, partitions] = await Promise.all([
        api('/cluster'), api('/queues'), api('/workers'), api('/partitions'), loadSeries(since)]);
      st.cluster = cluster; st.queues = queues.queues; st.members = workers.workers; st.partitions = partitions.partitions;
      draw();
    } catch (e) { if (e.status !== 401) showError(el, e); }
  };
  // The series lives in the server's memory: reading it costs the database nothing.
  const timer = setInterval(async () => {
    if (document.hidden || !st.cluster) return;
    const last = st.series.samples[st.series.samples.length - 1];
    try { await loadSeries(last ? last.at : undefined, !!last); draw(); } catch (e) { /* shown on the next load */ }
  }, 5000);
  load();
  return {
    refresh: load,
    destroy() { clearInterval(timer); },
    event(ev) {
      if (!st.cluster) return;
      if (ev.type === 'queue') {
        const i = st.queues.findIndex(q => q.name === ev.data.name);
        const q = Object.assign({}, i >= 0 ? st.queues[i] : {}, ev.data);
        if (!q.jobs.available) q.oldest_available_at = null;
        if (i >= 0) st.queues[i] = q; else st.queues.push(q);
      } else if (ev.type === 'cluster') {
        Object.assign(st.cluster, ev.data);
      } else if (ev.type === 'leader') {
        st.cluster.leader = ev.data.leader;
      } else if (ev.type === 'worker_joined' || ev.type === 'worker_left') {
        api('/workers').then(w => { st.members = w.workers; draw(); }).catch(() => {});
        return;
      } else {
        return;
      }
      draw();
    },
  };
};

// A search's terms (docs/api.md, "Search"): KEY:VALUE, the value quoted as JSON when it has
// spaces. The explorer keeps its whole filter in one search, so that what filters is what shows.
function searchTerms(q) { return (q || '').match(/[^\s:"]+:"(?:[^"\\]|\\.)*"|\S+/g) || []; }
function termKey(t) { const i = t.indexOf(':'); return i > 0 ? t.slice(0, i) : null; }
function termValue(t) {
  const v = t.slice(t.indexOf(':') + 1);
  try { return v.startsWith('"') ? JSON.parse(v) : v; } catch (e) { return v; }
}
function term(key, value) { return `${key}:${/[\s"]/.test(value) ? JSON.stringify(value) : value}`; }
// `q` with KEY's term set to value (removed when value is empty), first.
function withTerm(q, key, value) {
  const rest = searchTerms(q).filter(t => termKey(t) !== key);
  return (value ? [term(key, value)] : []).concat(rest).join(' ');
}
function jobsHref(q) { return `#/jobs${query({q})}`; }

// The job explorer: the search in the URL (a view can be bookmarked), state tabs, keyset pages.
pages.jobs = function (el, params) {
  // Links may name filters as parameters (#/jobs?queue=x); they join the search.
  let q = params.get('q') || '';
  for (const k of ['state', 'queue', 'kind', 'parent']) if (params.get(k)) q = withTerm(q, k, params.get(k));
  const terms = searchTerms(q);
  const has = (k) => terms.some(t => termKey(t) === k);
  const stateTerm = terms.find(t => termKey(t) === 'state');
  const state = stateTerm ? termValue(stateTerm) : '';
  const cursors = (params.get('cursors') || '').split(',').filter(Boolean);  // pages before this
  let counts = {};  // jobs by state within the queue filter, kept live from the queue events
  let queues = [];
  const go = (changes) => { location.hash = `#/jobs${query(Object.assign({q}, changes))}`; };
  const search = h('input', {type: 'search', value: q, 'aria-label': 'Search jobs',
    placeholder: 'state:failed queue:default kind:email args.customer.id:42'});
  const form = h('form', {class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); location.hash = jobsHref(search.value.trim()); }},
    search, h('button', {type: 'submit', class: 'primary'}, 'Search'),
    h('a', {href: '#/jobs'}, 'Clear'));
  const tabs = h('div', {class: 'tabs', role: 'navigation', 'aria-label': 'States'});
  const bulk = h('div', {class: 'toolbar'});
  const opBox = h('div');
  const list = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const pager = h('div', {class: 'pager'});
  fill(el, h('h1', {}, 'Jobs'), form, tabs, bulk, opBox, list, pager);

  // The queues' counts by state are the tabs' counts while the search is a queue and a state at
  // most; otherwise only the shown tab has one (the list's).
  const byQueue = terms.every(t => ['state', 'queue'].includes(termKey(t)));
  const queueTerm = terms.find(t => termKey(t) === 'queue');
  const queueName = queueTerm ? termValue(queueTerm) : '';
  let listed = null;
  const drawTabs = () => {
    const mk = (st, label, n) => {
      const current = state === st;
      if (!byQueue) n = current && listed !== null ? listed : undefined;
      return h('a', {href: jobsHref(withTerm(q, 'state', st)), 'aria-current': current ? 'true' : 'false'},
        label, n === undefined ? null : h('span', {}, num(n)));
    };
    const all = Object.values(counts).reduce((a, b) => a + b, 0);
    fill(tabs, mk('', 'all', all), ...STATES.map(st => mk(st, st, counts[st] || 0)));
  };
  const recount = () => {
    counts = sumJobs(queueName ? queues.filter(x => x.name === queueName) : queues);
    drawTabs();
  };
  // A bulk change takes state, queue, kind and parent.
  const bulkFilter = () => {
    const out = {};
    for (const t of terms) {
      const k = termKey(t);
      if (!['state', 'queue', 'kind', 'parent'].includes(k)) return null;
      out[k] = termValue(t);
    }
    return Object.keys(out).length ? out : null;
  };
  const describe = (filter) => Object.entries(filter).map(([k, v]) => `${k} ${v}`).join(', ');
  const drawBulk = () => {
    if (!session.can('operate') || !terms.length) { fill(bulk); return; }
    const filter = bulkFilter();
    if (!filter) {
      fill(bulk, h('span', {class: 'muted'}, 'Bulk actions take state, queue, kind and parent only: narrow the search to those to change every job it finds.'));
      return;
    }
    const run = async (action) => {
      try {
        const dry = await api('/jobs/bulk', {method: 'POST', body: {action, filter, dry_run: true}});
        if (!dry.matching) { fill(opBox, h('p', {class: 'muted'}, `No job to ${action}.`)); return; }
        if (!await confirmAction(`${capital(action)} ${plural(dry.matching, 'job')}?`,
          `This will ${action} every job of ${describe(filter)}${action === 'retry' && !filter.state ? ' that failed' : ''}: ${plural(dry.matching, 'job')} now.`,
          `${capital(action)} ${plural(dry.matching, 'job')}`)) return;
        const op = await api('/jobs/bulk', {method: 'POST', body: {action, filter}});
        await followOperation(opBox, op, `${action}:`);
        load();
      } catch (e) { showError(opBox, e); }
    };
    fill(bulk, h('span', {class: 'muted'}, 'Every job of this search:'),
      h('button', {type: 'button', onclick: () => run('retry')}, 'Retry all'),
      h('button', {type: 'button', onclick: () => run('cancel')}, 'Cancel all'),
      session.can('admin') ? h('button', {type: 'button', class: 'danger', onclick: () => run('delete')}, 'Delete all') : null);
  };
  const load = async () => {
    try {
      const limit = 50;
      const cursor = params.get('cursor');
      const [page, qs] = await Promise.all([api(`/jobs${query({q, limit, cursor})}`), api('/queues')]);
      queues = qs.queues;
      listed = page.count;
      recount();
      const rows = page.jobs.map(j => h('tr', {class: 'link', onclick: (e) => { if (e.target.tagName !== 'A') location.hash = `#/jobs/${j.id}`; }},
        h('td', {}, jobLink(j.id)), h('td', {}, j.kind), h('td', {class: 'hide-narrow'}, j.queue), h('td', {}, stateBadge(j.state)),
        h('td', {class: 'num hide-narrow'}, `${j.attempts_used}/${j.max_attempts}`),
        h('td', {}, when(j.finished_at || j.started_at || j.created_at)),
        h('td', {class: 'err hide-narrow', title: j.errors.length ? j.errors[j.errors.length - 1].error : ''},
          j.errors.length ? firstLine(j.errors[j.errors.length - 1].error) : '')));
      fill(list, h('p', {class: 'muted', 'data-count': page.count}, `${page.count_is_estimate ? 'about ' : ''}${plural(page.count, 'job')}`),
        table(['id', 'kind', ['queue', 'hide-narrow'], 'state', ['attempts', 'num hide-narrow'], 'last change', ['last error', 'hide-narrow']], rows, {label: 'Jobs', empty: 'No job matches.'}));
      const prev = cursors.length ? cursors[cursors.length - 1] : null;
      fill(pager,
        h('button', {type: 'button', disabled: !cursor, onclick: () => go({cursor: prev === '-' ? undefined : prev, cursors: cursors.slice(0, -1).join(',') || undefined})}, '← Newer'),
        h('button', {type: 'button', disabled: !page.next_cursor, onclick: () => go({cursor: page.next_cursor, cursors: cursors.concat([cursor || '-']).join(',')})}, 'Older →'));
      drawBulk();
    } catch (e) { if (e.status !== 401) showError(list, e); }
  };
  const reload = throttle(load, 3000);
  load();
  return {
    refresh: load,
    event(ev) {
      if (ev.type !== 'queue') return;
      const i = queues.findIndex(x => x.name === ev.data.name);
      if (i >= 0) queues[i] = ev.data; else queues.push(ev.data);
      recount();
      // The list itself follows only on its first page, at most every 3 s.
      if (!params.get('cursor') && (!queueName || queueName === ev.data.name)) reload();
    },
  };
};

const JOB_ACTIONS = [
  // action, states it applies to, scope, what it does
  ['stop', ['available', 'scheduled', 'retryable', 'running', 'waiting'], 'operate', 'Stop it until it is resumed'],
  ['resume', ['stopped'], 'operate', 'Resume it'],
  ['wake', ['scheduled'], 'operate', 'End its nap now'],
  ['cancel', ['available', 'scheduled', 'retryable', 'running', 'waiting', 'stopped'], 'operate', 'Cancel it: it will not run again'],
  ['retry', ['failed', 'cancelled', 'completed', 'expired', 'retryable'], 'operate', 'Make it available to run now'],
  ['delete', ['failed', 'cancelled', 'completed', 'expired'], 'admin', 'Delete it and its history'],
];

// An error's text: a long one (a stack trace, a command's stderr) shows its last lines, where it
// says what happened, with the whole of it one click away.
function errorText(text) {
  const lines = text.split('\n');
  if (lines.length <= 12) return h('pre', {}, text);
  return h('div', {}, h('pre', {}, `… ${lines.length - 12} lines above\n${lines.slice(-12).join('\n')}`),
    h('details', {}, h('summary', {}, `All ${lines.length} lines`), h('pre', {}, text)));
}

pages.job = function (el, params, id) {
  let job = null;
  const msg = h('div');
  const load = async () => {
    try {
      job = await api(`/jobs/${encodeURIComponent(id)}`);
      draw();
    } catch (e) {
      if (e.status === 401) return;
      if (job && e.status === 0) { showError(msg, e); return; }  // keep what is shown
      fill(el, h('p', {}, h('a', {href: '#/jobs'}, '← Jobs')), h('h1', {}, 'Job'), h('p', {class: 'error', role: 'alert'}, e.message));
    }
  };
  const act = async (action, what) => {
    const label = `${capital(action)} job`;
    if (!await confirmAction(`${label}?`, `${what}: ${job.kind} ${job.id}.`, label)) return;
    try {
      if (action === 'delete') {
        await api(`/jobs/${encodeURIComponent(id)}`, {method: 'DELETE'});
        location.hash = '#/jobs';
        return;
      }
      job = Object.assign(job, await api(`/jobs/${encodeURIComponent(id)}/${action}`, {method: 'POST'}));
      await load();
      fill(msg, h('p', {role: 'status'}, `${action}: done, now ${job.state}.`));
    } catch (e) { showError(msg, e); }
  };
  const draw = () => {
    const j = job;
    const actions = JOB_ACTIONS.filter(([, states, scope]) => states.includes(j.state) && session.can(scope))
      .map(([a, , , what]) => h('button', {type: 'button', class: a === 'delete' || a === 'cancel' ? 'danger' : null, onclick: () => act(a, what), 'data-action': a}, capital(a)));
    const json = (v) => h('pre', {}, JSON.stringify(v, null, 2));
    const p = j.progress;
    fill(el, 
      h('p', {}, h('a', {href: '#/jobs'}, '← Jobs')),
      h('h1', {}, `${j.kind} `, stateBadge(j.state)),
      h('div', {class: 'actions', role: 'group', 'aria-label': 'Actions'}, actions), msg,
      h('div', {class: 'grid'},
        h('section', {class: 'card', 'aria-label': 'Job'}, h('dl', {class: 'kv'},
          h('dt', {}, 'id'), h('dd', {}, h('code', {}, j.id)),
          h('dt', {}, 'queue'), h('dd', {}, h('a', {href: jobsHref(term('queue', j.queue))}, j.queue)),
          h('dt', {}, 'priority'), h('dd', {}, j.priority),
          h('dt', {}, 'attempts'), h('dd', {}, `${j.attempts_used} of ${j.max_attempts} (runs: ${j.attempt})`),
          h('dt', {}, 'created'), h('dd', {}, when(j.created_at)),
          h('dt', {}, 'run at'), h('dd', {}, when(j.run_at)),
          h('dt', {}, 'started'), h('dd', {}, when(j.started_at)),
          h('dt', {}, 'finished'), h('dd', {}, when(j.finished_at)),
          j.deadline ? [h('dt', {}, 'deadline'), h('dd', {class: j.at_risk ? 'warn' : null}, when(j.deadline), j.at_risk ? ' (at risk)' : '')] : null,
          j.serial_key ? [h('dt', {}, 'serial key'), h('dd', {}, j.serial_key)] : null,
          j.parent_id ? [h('dt', {}, 'parent'), h('dd', {}, jobLink(j.parent_id))] : null,
          j.step ? [h('dt', {}, 'next step'), h('dd', {}, j.step)] : null)),
        h('section', {class: 'card', 'aria-label': 'Lease and progress'},
          h('h3', {}, 'Lease'),
          j.lease_owner ? h('dl', {class: 'kv'}, h('dt', {}, 'owner'), h('dd', {}, h('code', {}, j.lease_owner)),
            h('dt', {}, 'expires'), h('dd', {}, when(j.lease_expires_at))) : h('p', {class: 'muted'}, 'not leased'),
          h('h3', {}, 'Progress'),
          p ? [h('progress', {max: 1, value: p.fraction || 0, 'aria-label': 'Progress'}), h('p', {}, `${Math.round((p.fraction || 0) * 100)}% ${p.message || ''}`)]
            : h('p', {class: 'muted'}, 'none reported'))),
      h('h2', {}, 'Errors'),
      j.errors.length ? j.errors.slice().reverse().map(e => h('div', {class: 'card'},
        h('div', {class: 'muted'}, `attempt ${e.attempt}, `, when(e.at)), errorText(e.error))) : h('p', {class: 'muted'}, 'none'),
      h('h2', {}, 'Timeline'),
      h('ol', {class: 'timeline'}, j.history.map(e => h('li', {}, h('time', {datetime: e.at, title: e.at}, new Date(e.at).toLocaleString()),
        h('b', {}, e.type), ' ', e.detail || ''))),
      h('h2', {}, `Children (${num(j.children_total)}, ${num(j.children_pending)} unfinished)`),
      table(['id', 'kind', 'state', 'finished'], (j.children || []).map(c => h('tr', {},
        h('td', {}, jobLink(c.id)), h('td', {}, c.kind), h('td', {}, stateBadge(c.state)), h('td', {}, when(c.finished_at)))), {label: 'Children', empty: 'No children.'}),
      h('h2', {}, 'Args'), json(j.args),
      h('h2', {}, 'Checkpoint'), j.checkpoint === null ? h('p', {class: 'muted'}, 'none') : json(j.checkpoint),
      h('h2', {}, 'Result'), j.result === null ? h('p', {class: 'muted'}, 'none') : json(j.result));
  };
  // Progress is not an event: a running job is read again every 2 s while it is shown.
  const timer = setInterval(() => { if (!document.hidden && job && job.state === 'running') load(); }, 2000);
  load();
  return {
    refresh: load,
    destroy() { clearInterval(timer); },
    event(ev) { if (ev.type === 'job' && ev.data.id === id) load(); },
  };
};

pages.failures = function (el, params) {
  const {msg: opBox, box} = frame(el, 'Failures',
    h('p', {class: 'muted'}, 'Failed jobs grouped by kind and the first line of their last error, with numbers and ids masked.'));
  const load = async () => {
    try {
      const r = await api(`/failures${query({queue: params.get('queue'), kind: params.get('kind')})}`);
      const act = async (g, action) => {
        if (!await confirmAction(`${action} ${num(g.count)} failed jobs?`,
          `${action} every failed ${g.kind} job whose error reads "${g.message}".`, `${action} group`)) return;
        try {
          const op = await api(`/failures/${g.fingerprint}/${action}`, {method: 'POST'});
          await followOperation(opBox, op, `${action} ${g.kind}:`);
          load();
        } catch (e) { showError(opBox, e); }
      };
      const rows = r.groups.map(g => h('tr', {'data-fingerprint': g.fingerprint},
        h('td', {class: 'num'}, num(g.count)), h('td', {}, g.kind),
        h('td', {}, h('code', {}, g.message), h('div', {class: 'muted'}, 'e.g. ', jobLink(g.example_id), ' ', g.example)),
        h('td', {class: 'hide-narrow'}, when(g.first_seen)), h('td', {}, when(g.last_seen)),
        h('td', {}, h('div', {class: 'actions'},
          h('a', {href: jobsHref(`state:failed ${term('kind', g.kind)}`)}, 'jobs'),
          session.can('operate') ? h('button', {type: 'button', onclick: () => act(g, 'retry')}, 'Retry') : null,
          session.can('admin') ? h('button', {type: 'button', class: 'danger', onclick: () => act(g, 'delete')}, 'Delete') : null))));
      fill(box, 
        r.complete ? null : h('p', {class: 'warn'}, `Grouped the newest ${num(r.scanned)} failed jobs; older ones are not counted.`),
        table([['count', 'num'], 'kind', 'error', ['first seen', 'hide-narrow'], 'last seen', ''], rows, {label: 'Failure groups', empty: 'No failed jobs.'}));
    } catch (e) { if (e.status !== 401) showError(box, e); }
  };
  load();
  return {refresh: load};
};

pages.queues = function (el) {
  const {msg, box} = frame(el, 'Queues');
  const toggle = async (q) => {
    const action = q.paused ? 'resume' : 'pause';
    if (!await confirmAction(`${action} queue ${q.name}?`, q.paused ? 'Workers will take its jobs again.' : 'Workers will take no new job from it; running jobs finish.', action)) return;
    try {
      await api(`/queues/${encodeURIComponent(q.name)}/${action}`, {method: 'POST'});
      fill(msg, h('p', {role: 'status'}, `Queue ${q.name}: ${action === 'pause' ? 'paused' : 'resumed'}.`));
      load();
    } catch (e) { showError(msg, e); }
  };
  const load = async () => {
    try {
      const [qs, limits] = await Promise.all([api('/queues'), api('/limits')]);
      const rows = qs.queues.map(q => h('tr', {},
        h('td', {}, h('a', {href: jobsHref(term('queue', q.name))}, q.name), ' ',
          q.paused ? h('span', {class: 'badge paused'}, 'paused') : null, q.no_consumer ? h('span', {class: 'badge alert'}, 'no consumer') : null),
        h('td', {class: 'num'}, num(q.consumers)), h('td', {class: 'num hide-narrow'}, num(q.concurrency)),
        h('td', {}, STATES.filter(s => q.jobs[s]).map(s => `${s} ${num(q.jobs[s])}`).join(' · ') || '–'),
        h('td', {class: 'hide-narrow'}, q.order, q.shed ? ', sheds' : '', q.fair_key ? `, fair by ${q.fair_key}` : ''),
        h('td', {}, session.can('operate') ? h('button', {type: 'button', onclick: () => toggle(q)}, q.paused ? 'Resume' : 'Pause') : null)));
      // A limit: at most `capacity` running (a rate: starts per per_ms), over a queue, a kind or
      // every job, per value of a key of the args when it has one.
      const lrows = limits.limits.map(l => h('tr', {},
        h('td', {}, l.name),
        h('td', {}, [l.queue ? `queue ${l.queue}` : null, l.kind ? `kind ${l.kind}` : null].filter(Boolean).join(', ') || 'every job',
          l.key ? ` per ${l.key}` : ''),
        h('td', {class: 'num'}, l.per_ms ? `${num(l.capacity)} per ${dur(l.per_ms)}` : num(l.capacity)),
        h('td', {class: 'num'}, num(l.running)), h('td', {class: 'num'}, num(l.waiting)),
        h('td', {class: 'num hide-narrow'}, l.keys === null ? '–' : num(l.keys))));
      fill(box, table(['queue', ['consumers', 'num'], ['concurrency', 'num hide-narrow'], 'jobs', ['order', 'hide-narrow'], ''], rows, {label: 'Queues', empty: 'No queues yet.'}),
        h('h2', {}, 'Limits'), table(['limit', 'over', ['at most', 'num'], ['running', 'num'], ['waiting', 'num'], ['keys', 'num hide-narrow']], lrows, {label: 'Limits', empty: 'No cluster-wide limits configured.'}));
    } catch (e) { if (e.status !== 401) showError(box, e); }
  };
  const reload = throttle(load, 2000);
  load();
  return {refresh: load, event(ev) { if (ev.type === 'queue') reload(); }};
};

pages.schedules = function (el) {
  const {msg, box} = frame(el, 'Schedules');
  const act = async (sc, action) => {
    const what = {pause: 'No job will be enqueued until it is resumed.', resume: 'Its next slot enqueues a job again.', run: 'Enqueue one job now, outside the schedule.'}[action];
    if (!await confirmAction(`${action} schedule ${sc.name}?`, what, action)) return;
    try {
      const r = await api(`/schedules/${encodeURIComponent(sc.name)}/${action}`, {method: 'POST'});
      load();
      fill(msg, h('p', {role: 'status'}, action === 'run' ? h('span', {}, 'Enqueued ', jobLink(r.id)) : `${action}: done.`));
    } catch (e) { showError(msg, e); }
  };
  const load = async () => {
    try {
      const r = await api('/schedules');
      const rows = r.schedules.map(sc => h('tr', {},
        h('td', {}, sc.name, ' ', sc.paused ? h('span', {class: 'badge paused'}, 'paused') : null),
        h('td', {}, h('code', {}, sc.cron), ' ', h('span', {class: 'muted'}, sc.zone)), h('td', {}, sc.kind),
        h('td', {}, sc.paused ? '–' : (sc.next || []).map(t => h('div', {}, when(t)))),
        h('td', {}, sc.last_job_id ? [when(sc.last_enqueued_at), ' ', jobLink(sc.last_job_id)] : '–'),
        h('td', {}, session.can('operate') ? h('div', {class: 'actions'},
          h('button', {type: 'button', onclick: () => act(sc, sc.paused ? 'resume' : 'pause')}, sc.paused ? 'Resume' : 'Pause'),
          h('button', {type: 'button', onclick: () => act(sc, 'run')}, 'Run now')) : null)));
      fill(box, table(['schedule', 'cron', 'kind', 'next runs', 'last enqueued', ''], rows, {label: 'Schedules', empty: 'No schedules configured.'}));
    } catch (e) { if (e.status !== 401) showError(box, e); }
  };
  load();
  return {refresh: load};
};

pages.cluster = function (el) {
  const {msg, box} = frame(el, 'Cluster');
  const toggle = async (c) => {
    let body = {state: 'running'};
    if (!c.stopped) {
      if (!await confirmAction('Stop the whole cluster?', 'No worker takes a job; running jobs are handed back and run again on resume.', 'Stop the cluster')) return;
      body = {state: 'stopped', reason: `from the dashboard by ${session.info.who}`};
    } else if (!await confirmAction('Resume the cluster?', 'Workers take jobs again.', 'Resume')) {
      return;
    }
    try { await api('/cluster', {method: 'PUT', body}); load(); } catch (e) { showError(msg, e); }
  };
  const load = async () => {
    try {
      const [c, w, p, a, ops, audit, events] = await Promise.all([api('/cluster'), api('/workers'), api('/partitions'), api('/assignments'), api('/operations'), api('/audit?limit=20'), api('/cluster/events?limit=200')]);
      const elected = events.events.filter(e => e.kind === 'elected').slice(0, 10);
      const trouble = events.events.filter(e => e.kind !== 'elected').slice(0, 20);
      const workers = w.workers.map(m => h('tr', {},
        h('td', {}, h('code', {}, m.id), m.leader ? [' ', h('span', {class: 'badge ok'}, 'leader')] : null),
        h('td', {class: 'hide-narrow'}, `${m.host} (pid ${m.pid})`), h('td', {class: m.silent_ms > m.heartbeat_timeout_ms / 2 ? 'warn' : null}, dur(m.silent_ms)),
        h('td', {}, m.queues.map(q => `${q}×${m.concurrency[q] || 0}`).join(', ')), h('td', {class: 'hide-narrow'}, m.kinds.join(', ')),
        h('td', {}, m.partition === null ? '–' : `${m.partition} of ${m.partition_count}`), h('td', {class: 'hide-narrow'}, m.version)));
      fill(box, 
        h('section', {class: 'card', 'aria-label': 'Stop switch'},
          h('h3', {}, c.stopped ? h('span', {class: 'badge alert'}, 'stopped') : h('span', {class: 'badge ok'}, 'running'),
            c.stopped && c.reason ? ` ${c.reason}` : '',
            session.can('admin') ? h('button', {type: 'button', class: c.stopped ? 'primary' : 'danger', onclick: () => toggle(c)}, c.stopped ? 'Resume the cluster' : 'Stop the cluster') : null),
          h('p', {class: 'muted'}, `New jobs reach workers by ${c.wakeups}.`)),
        h('h2', {}, 'Members'), table(['worker', ['host', 'hide-narrow'], 'heartbeat', 'queues × concurrency', ['kinds', 'hide-narrow'], 'partition', ['version', 'hide-narrow']], workers, {label: 'Members', empty: 'No live worker.'}),
        h('h2', {}, 'Leader history'), table(['elected', 'leader', 'term'], elected.map(e => h('tr', {},
          h('td', {}, when(e.at)), h('td', {}, h('code', {}, e.worker)), h('td', {}, e.detail))), {label: 'Leader history', empty: 'No election recorded.'}),
        h('h2', {}, 'Partitions'), table(['partition', 'held by'], p.partitions.map(x => h('tr', {},
          h('td', {}, `${x.partition} of ${x.of}`), h('td', {}, h('code', {}, x.worker)))), {label: 'Partitions', empty: 'Not partitioned.'}),
        h('h2', {}, 'Assignments'), table(['assignment', 'runs on', 'since'], a.assignments.map(x => h('tr', {},
          h('td', {}, x.name), h('td', {}, h('code', {}, x.owner)), h('td', {}, when(x.claimed_at)))), {label: 'Assignments', empty: 'No assignments.'}),
        h('h2', {}, 'Recent rescues and evictions'), table(['when', 'what', 'what happened'], trouble.map(e => h('tr', {},
          h('td', {}, when(e.at)), h('td', {}, h('span', {class: `badge ${e.kind === 'evicted' ? 'alert' : 'warn'}`}, e.kind)),
          h('td', {}, h('code', {}, e.worker), e.kind === 'evicted' ? ` was evicted ${e.detail}` : ` rescued ${e.detail}`))), {label: 'Rescues and evictions', empty: 'None recorded: no worker died or froze holding jobs.'}),
        h('h2', {}, 'Bulk operations on this server'), table(['action', 'state', ['changed', 'num'], 'by', 'started'], ops.operations.map(o => h('tr', {},
          h('td', {}, o.action), h('td', {}, o.state), h('td', {class: 'num'}, `${num(o.changed)} of ${num(o.total)}`), h('td', {}, o.by), h('td', {}, when(o.started_at)))), {label: 'Operations', empty: 'None yet.'}),
        h('h2', {}, 'Recent changes through the API'), table(['when', 'who', 'call', 'status'], audit.entries.map(x => h('tr', {},
          h('td', {}, when(x.at)), h('td', {}, x.who), h('td', {}, h('code', {}, `${x.method} ${x.path}`)), h('td', {}, x.status))), {label: 'Audit', empty: 'None yet.'}));
    } catch (e) { if (e.status !== 401) showError(box, e); }
  };
  const reload = throttle(load, 2000);
  load();
  return {refresh: load, event(ev) { if (ev.type !== 'queue' && ev.type !== 'job') reload(); }};
};

// ---- Routing, sign-in, theme -------------------------------------------------------------------

function route() {
  const hash = location.hash.slice(1) || '/';
  const [path, qs] = hash.split('?');
  const params = new URLSearchParams(qs || '');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'jobs' && parts[1]) return {name: 'jobs', make: el => pages.job(el, params, decodeURIComponent(parts[1]))};
  const name = parts[0] || 'overview';
  if (!pages[name]) {
    return {name: 'not found', make: el => fill(el, h('h1', {}, 'No such page'),
      h('p', {}, `There is no page "${path}". `, h('a', {href: '#/'}, 'Go to the overview.')))};
  }
  return {name, make: el => pages[name](el, params)};
}

function render() {
  if (!session.info) return;
  if (view.page && view.page.destroy) view.page.destroy();
  const r = route();
  for (const a of document.querySelectorAll('nav a')) a.setAttribute('aria-current', a.dataset.page === r.name ? 'page' : 'false');
  const el = document.getElementById('view');
  fill(el);
  view.page = r.make(el) || {};
  document.title = `${capital(r.name)} · Spindle`;
  document.getElementById('view').focus({preventScroll: true});
}

function signIn(reason) {
  session.info = null;
  live.stop();
  live.set('signed out', '');
  const input = h('input', {type: 'password', id: 'token', autocomplete: 'off', required: true});
  const el = document.getElementById('view');
  fill(el, h('form', {class: 'card signin', onsubmit: (e) => {
    e.preventDefault();
    session.token = input.value.trim();
    sessionStorage.setItem('spindle.token', session.token);
    start();
  }}, h('h1', {}, 'Sign in'),
  h('p', {}, 'This server needs a token (', h('code', {}, 'spindle token new'), ' makes one; docs/api.md, "Tokens"). It is kept in this tab only.'),
  reason ? h('p', {class: 'error', role: 'alert'}, reason) : null,
  h('label', {for: 'token'}, 'Token'), input, h('button', {type: 'submit', class: 'primary'}, 'Sign in')));
  input.focus();
}

async function start() {
  try {
    const info = await api('/session');
    if (!info.scope) {
      signIn(session.token ? 'This server does not know that token.' : null);
      return;
    }
    session.info = info;
  } catch (e) {
    if (e.status !== 401) showError(document.getElementById('view'), e);
    return;
  }
  const who = document.getElementById('who');
  fill(who, `${session.info.who} · ${session.info.scope}`, session.info.read_only ? ' · read-only server' : '',
    session.token ? [' · ', h('a', {href: '#', onclick: (e) => { e.preventDefault(); sessionStorage.removeItem('spindle.token'); session.token = ''; signIn(); }}, 'sign out')] : '');
  render();
  live.start();
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('spindle.theme', theme);
}

document.addEventListener('DOMContentLoaded', () => {
  live.el = document.getElementById('live');
  setTheme(localStorage.getItem('spindle.theme') ||
    (window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  document.getElementById('theme').addEventListener('click', () =>
    setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
  const search = document.getElementById('search-q');
  document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/jobs${query({q: search.value.trim()})}`;
  });
  // "/" searches, as in most dashboards, unless typing somewhere already.
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) return;
    e.preventDefault();
    search.focus();
    search.select();
  });
  window.addEventListener('hashchange', render);
  start();
});
