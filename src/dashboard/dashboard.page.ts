/**
 * The dashboard's page: one self-contained HTML document (no build step, no
 * external assets) that reads the JSON endpoints next to it and follows the
 * live event feed (server-sent events). Everything it shows is set through
 * textContent or numeric SVG attributes, never as HTML: task arguments, names,
 * results and errors are untrusted. The script below contains no backtick and
 * no dollar-brace, so it sits in this template literal as it is.
 * @internal
 */
export function dashboardPage(opts: { csrfToken: string; nonce: string }): string {
  const attr = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Task queue</title>
<meta name="taskqueue-csrf" content="${attr(opts.csrfToken)}">
<style nonce="${attr(opts.nonce)}">${STYLE}</style>
</head>
<body>
${BODY}
<script nonce="${attr(opts.nonce)}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = String.raw`
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  [hidden] { display: none !important; }
  body { margin: 0 auto; max-width: 1280px; padding: 1rem 1.5rem 3rem; }
  h1 { font-size: 1.4rem; margin: .5rem 0 0; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
  h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
  nav { display: flex; gap: 1rem; font-size: .9rem; margin: .4rem 0; }
  nav a { color: #2450a8; }
  #status { color: #5a6275; font-size: .9rem; margin: .2rem 0 .4rem; }
  #status.down { color: #b3261e; font-weight: 600; }
  .note { background: #fff7d6; border: 1px solid #e8d47a; padding: .4rem .7rem; font-size: .9rem; border-radius: 4px; }
  table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid #e6e8ee; font-size: .86rem; vertical-align: top; }
  th { background: #eef0f5; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.bad, .bad { color: #b3261e; font-weight: 600; }
  tr.pick { cursor: pointer; }
  tr.pick:hover { background: #f0f4ff; }
  .state-SUCCESS { color: #1b7a3a; font-weight: 600; }
  .state-FAILURE, .state-REJECTED { color: #b3261e; font-weight: 600; }
  .state-RETRY, .state-REVOKED { color: #a86400; font-weight: 600; }
  .state-STARTED, .state-RECEIVED { color: #2450a8; font-weight: 600; }
  button { font: inherit; font-size: .82rem; padding: .2rem .6rem; border: 1px solid #b9bfcc; background: #fff; border-radius: 4px; cursor: pointer; }
  button.danger { border-color: #d77; color: #a11; }
  input, select { font: inherit; font-size: .85rem; padding: .25rem .4rem; border: 1px solid #b9bfcc; border-radius: 4px; }
  input.wide { width: 22rem; }
  pre { background: #fff; padding: .6rem; overflow: auto; box-shadow: 0 1px 2px rgba(0,0,0,.08); font-size: .8rem; max-height: 20rem; white-space: pre-wrap; word-break: break-all; margin: .3rem 0; }
  .empty { color: #7a8194; font-style: italic; }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin: .3rem 0; }
  .kv { display: grid; grid-template-columns: 8rem 1fr; gap: .2rem .8rem; font-size: .88rem; background: #fff; padding: .6rem; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .kv dt { color: #5a6275; }
  .kv dd { margin: 0; word-break: break-all; }
  ul.tree { margin: .2rem 0; padding-left: 1.2rem; font-size: .86rem; }
  svg.chart { display: block; }
  #live { font-size: .8rem; color: #7a8194; }
  #live.on { color: #1b7a3a; }
`;

const BODY = String.raw`
<h1>Task queue</h1>
<div id="status">loading…</div>
<nav><a href="#queues-h">queues</a><a href="#workers-h">workers</a><a href="#tasks-h">tasks</a><a href="#detail-h">task detail</a><a href="#parked-h">dead letters</a><a href="#schedules-h">schedules</a><a href="#registered-h">registered tasks</a><span id="live">live: off</span></nav>
<div id="events-note" class="note" hidden>The task list, task timelines, throughput charts and live updates are built from task events: turn on the module's <code>events</code> option (<code>TaskQueueModule.forRoot({ events: true })</code>) in the API and the workers.</div>

<h2 id="queues-h">Queues</h2>
<table id="queues"><thead><tr><th>queue</th><th>ready</th><th>delayed</th><th>running</th><th>dead</th><th>rejected</th><th>finished per minute, last 30 min (green ok, red failed)</th><th>failure rate</th><th></th></tr></thead><tbody></tbody></table>

<h2 id="workers-h">Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>host / pid</th><th>queues</th><th>running / concurrency</th><th>prefetched</th><th>succeeded</th><th>failed</th><th>retried</th><th>memory (rss / heap)</th><th>up since</th><th>heartbeat</th><th></th></tr></thead><tbody></tbody></table>
<div id="worker-result" class="row"></div>

<h2>Running now</h2>
<table id="active"><thead><tr><th>task</th><th>id</th><th>queue</th><th>worker</th><th>for</th><th></th></tr></thead><tbody></tbody></table>

<h2 id="tasks-h">Tasks</h2>
<form id="filters" class="row">
  <select id="f-state" aria-label="state"><option value="">any state</option><option>SENT</option><option>RECEIVED</option><option>STARTED</option><option>RETRY</option><option>SUCCESS</option><option>FAILURE</option><option>REVOKED</option><option>REJECTED</option></select>
  <input id="f-task" placeholder="task name" aria-label="task name">
  <input id="f-queue" placeholder="queue" aria-label="queue">
  <input id="f-worker" placeholder="worker" aria-label="worker">
  <label>from <input id="f-from" type="datetime-local"></label>
  <label>to <input id="f-to" type="datetime-local"></label>
  <input id="f-search" class="wide" placeholder="search id or argument text" aria-label="search">
  <button type="submit">filter</button>
  <button type="button" id="f-clear">clear</button>
</form>
<form id="revoke-name" class="row"><input id="revoke-pattern" placeholder="task name pattern, e.g. report.*" aria-label="task name pattern"><label><input type="checkbox" id="revoke-terminate"> terminate running ones</label><button type="submit" class="danger">revoke by name</button><span id="revoke-result"></span></form>
<table id="tasks"><thead><tr><th>state</th><th>task</th><th>id</th><th>queue</th><th>worker</th><th>args</th><th>result / error</th><th>retries</th><th>runtime</th><th>last event</th></tr></thead><tbody></tbody></table>

<h2 id="detail-h">Task detail</h2>
<form id="lookup" class="row"><input id="task-id" class="wide" placeholder="task id" autocomplete="off" aria-label="task id"><button type="submit">Look up</button></form>
<div id="task"></div>

<h2 id="parked-h">Dead letters and rejected messages</h2>
<div class="row"><span>Queue:</span><span id="parked-queue" class="empty">pick one above (its dead or rejected count)</span></div>
<div id="parked-actions" class="row" hidden>
  <button type="button" id="replay-selected">replay selected</button>
  <button type="button" id="replay-all">replay all</button>
  <button type="button" id="delete-selected" class="danger">delete selected</button>
  <button type="button" id="delete-all" class="danger">delete all</button>
  <span id="parked-result"></span>
</div>
<table id="parked"><thead><tr><th><input type="checkbox" id="parked-check-all" aria-label="select all"></th><th>when</th><th>task</th><th>id</th><th>kind</th><th>reason</th><th>args</th><th></th></tr></thead><tbody></tbody></table>

<h2 id="schedules-h">Schedules</h2>
<table id="schedules"><thead><tr><th>name</th><th>task</th><th>queue</th><th>schedule</th><th>next run</th><th>last run</th><th>state</th><th></th></tr></thead><tbody></tbody></table>

<h2 id="registered-h">Registered tasks</h2>
<table id="registered"><thead><tr><th>task</th><th>workers</th><th>rate limit (e.g. 10/s, empty: none)</th><th>time limits, soft / hard (e.g. 30s, empty: none)</th></tr></thead><tbody></tbody></table>
<div id="limit-result" class="row"></div>
`;

const SCRIPT = String.raw`
(() => {
  const base = location.pathname.replace(/\/+$/, '');
  const csrf = document.querySelector('meta[name="taskqueue-csrf"]').content;
  let readOnly = true;
  let eventsOn = false;
  const api = async (path, init = {}) => {
    const headers = Object.assign({}, init.headers);
    if (init.method && init.method !== 'GET') headers['x-taskqueue-csrf'] = csrf;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + '/api/' + path, Object.assign({}, init, { headers, credentials: 'same-origin', body: init.body === undefined ? undefined : JSON.stringify(init.body) }));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || res.statusText);
    return body;
  };
  const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const ago = (at) => Math.max(0, Math.round((Date.now() - at) / 100) / 10) + ' s ago';
  const time = (at) => at ? new Date(at).toISOString().replace('T', ' ').slice(0, 23) : '';
  const fill = (id, rows, empty) => {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (!rows.length) { const tr = el('tr'); const td = el('td', empty, 'empty'); td.colSpan = 12; tr.append(td); body.append(tr); return; }
    for (const cells of rows) {
      const tr = cells instanceof Node ? cells : el('tr');
      if (!(cells instanceof Node)) for (const c of cells) tr.append(c instanceof Node ? c : el('td', c));
      body.append(tr);
    }
  };
  const num = (n, bad) => el('td', n, 'num' + (bad && n > 0 ? ' bad' : ''));
  const button = (label, onClick, danger) => { const b = el('button', label, danger ? 'danger' : ''); b.type = 'button'; b.addEventListener('click', onClick); return b; };
  const cell = (...children) => { const td = el('td'); td.append(...children.filter((c) => c !== '')); return td; };
  const stateCell = (s) => el('td', s, 'state-' + s);
  const parseRaw = (raw) => { try { return JSON.parse(raw); } catch { return null; } };
  const shorten = (s, n) => s && s.length > n ? s.slice(0, n - 1) + '…' : s;

  // ---------- charts (SVG built with numbers only) ----------
  const SVG = 'http://www.w3.org/2000/svg';
  function chart(series) {
    const w = 240, h = 32, n = series.succeeded.length;
    const max = Math.max(1, ...series.succeeded.map((s, i) => s + series.failed[i]));
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'chart'); svg.setAttribute('width', w); svg.setAttribute('height', h);
    svg.setAttribute('role', 'img');
    const bw = w / n;
    for (let i = 0; i < n; i++) {
      const ok = series.succeeded[i] / max * h, bad = series.failed[i] / max * h;
      for (const [v, y, color] of [[ok, h - ok, '#3a9a5b'], [bad, h - ok - bad, '#c8473d']]) {
        if (v <= 0) continue;
        const r = document.createElementNS(SVG, 'rect');
        r.setAttribute('x', (i * bw).toFixed(1)); r.setAttribute('y', y.toFixed(1));
        r.setAttribute('width', Math.max(1, bw - 1).toFixed(1)); r.setAttribute('height', v.toFixed(1)); r.setAttribute('fill', color);
        svg.append(r);
      }
    }
    const t = document.createElementNS(SVG, 'title');
    t.textContent = series.succeeded.reduce((a, b) => a + b, 0) + ' succeeded, ' + series.failed.reduce((a, b) => a + b, 0) + ' failed';
    svg.append(t);
    return svg;
  }

  // ---------- overview: queues, workers, running now, schedules ----------
  let lastQueues = [];
  async function purge(q) {
    const c = (await api('overview')).queues.find((x) => x.queue === q.queue) || q;
    const what = 'Purge queue "' + q.queue + '": this removes ' + c.ready + ' ready, ' + c.delayed + ' delayed and ' + c.reserved + ' running message(s), ' + c.dead + ' dead letter(s), ' + c.rejected + ' rejected message(s) and every stored result of the queue. Type the queue name to confirm.';
    const typed = prompt(what);
    if (typed === null) return;
    if (typed !== q.queue) { alert('Not purged: the name typed does not match "' + q.queue + '".'); return; }
    await post('queues/' + encodeURIComponent(q.queue) + '/purge');
    await refresh();
  }

  async function refresh() {
    const status = $('status');
    try {
      const [o, tp] = await Promise.all([api('overview'), api('throughput?minutes=30').catch(() => null)]);
      readOnly = o.readOnly; eventsOn = o.events;
      $('events-note').hidden = eventsOn;
      $('revoke-name').hidden = readOnly;
      status.className = '';
      status.textContent = 'broker ' + o.brokerLatencyMs.toFixed(2) + ' ms  ·  ' + o.workers.length + ' worker(s)  ·  beat: ' + (o.beat ? o.beat.id + ', ' + ago(o.beat.at) : 'none') + (readOnly ? '  ·  read-only' : '') + '  ·  updated ' + new Date(o.at).toLocaleTimeString();
      lastQueues = o.queues;
      fill('queues', o.queues.map((q) => {
        const s = tp && tp.queues[q.queue];
        const done = s ? s.succeeded.reduce((a, b) => a + b, 0) + s.failed.reduce((a, b) => a + b, 0) : 0;
        const failed = s ? s.failed.reduce((a, b) => a + b, 0) : 0;
        const tr = el('tr'); tr.dataset.queue = q.queue;
        tr.append(el('td', q.queue), num(q.ready), num(q.delayed), num(q.reserved),
          cell(button(String(q.dead), () => showParked(q.queue, 'dead'))),
          cell(button(String(q.rejected), () => showParked(q.queue, 'rejected'))),
          s ? cell(chart(s)) : el('td', eventsOn ? 'nothing finished' : 'needs events', 'empty'),
          el('td', done ? (100 * failed / done).toFixed(1) + ' %' : '', 'num'),
          readOnly ? el('td') : cell(button('purge', () => purge(q), true)));
        return tr;
      }), 'no queues yet');
      fill('workers', o.workers.map((w) => {
        const tr = el('tr'); tr.dataset.worker = w.id;
        const queues = el('td');
        for (const q of w.queues) {
          const chip = el('span', q + ' '); queues.append(chip);
          if (!readOnly) chip.append(button('×', () => control(w.id, 'cancel-consumer', { queue: q }, 'Stop ' + w.id + ' consuming "' + q + '"?')));
        }
        const mem = el('td', '', 'num mem');
        tr.append(el('td', w.id), el('td', w.hostname + ' / ' + w.pid), queues, el('td', w.running + ' / ' + w.concurrency), num(w.prefetched), num(w.succeeded), num(w.failed, true), num(w.retried), mem, el('td', time(w.startedAt)), el('td', ago(w.at)),
          readOnly ? el('td') : cell(button('grow', () => control(w.id, 'grow', { n: 1 })), button('shrink', () => control(w.id, 'shrink', { n: 1 })),
            button('consume…', () => { const q = prompt('Queue for ' + w.id + ' to consume too:'); if (q) control(w.id, 'add-consumer', { queue: q.trim() }); }),
            button('shutdown', () => control(w.id, 'shutdown', {}, 'Shut down worker ' + w.id + '? It finishes what it runs and stops consuming.'), true)));
        return tr;
      }), 'no live worker');
      api('workers/stats').then((stats) => {
        for (const s of stats) {
          const td = document.querySelector('#workers tr[data-worker="' + CSS.escape(s.worker) + '"] td.mem');
          if (td) td.textContent = Math.round(s.stats.memory.rss / 1048576) + ' / ' + Math.round(s.stats.memory.heapUsed / 1048576) + ' MB';
        }
      }).catch(() => {});
      const active = await api('active');
      fill('active', active.flatMap((w) => w.tasks.map((t) => [t.task || '', t.id, t.queue, w.worker, ago(t.startedAt), readOnly ? '' : cell(button('terminate', () => revoke(t.id, true), true))])), 'nothing running');
      if (!document.querySelector('#registered input:focus')) {
        const registered = await api('registered');
        fill('registered', registered.map((r) => {
          const tr = el('tr'); tr.dataset.task = r.task;
          const rate = el('input'); rate.className = 'rate'; rate.size = 8; rate.setAttribute('aria-label', 'rate limit of ' + r.task);
          const soft = el('input'); soft.className = 'soft'; soft.size = 6; soft.setAttribute('aria-label', 'soft time limit of ' + r.task);
          const hard = el('input'); hard.className = 'hard'; hard.size = 6; hard.setAttribute('aria-label', 'hard time limit of ' + r.task);
          const limit = async (op, body) => {
            try {
              const res = await post('registered/' + encodeURIComponent(r.task) + '/' + op, body);
              const d = res.replies[0] && res.replies[0].data;
              $('limit-result').textContent = r.task + ': ' + op + ' set on ' + res.replies.length + ' worker(s)' + (d && 'rateLimit' in d ? ', ' + (d.rateLimit ? d.rateLimit.limit + ' per ' + d.rateLimit.intervalMs + ' ms' : 'no limit') : '') + (d && 'timeLimitMs' in d ? ', soft ' + (d.softTimeLimitMs === null ? 'none' : d.softTimeLimitMs + ' ms') + ', hard ' + (d.timeLimitMs === null ? 'none' : d.timeLimitMs + ' ms') : '');
            } catch (err) { $('limit-result').textContent = r.task + ': ' + op + ' failed: ' + err.message; }
          };
          tr.append(el('td', r.task), el('td', r.workers.join(', ')),
            readOnly ? el('td') : cell(rate, button('set', () => limit('rate-limit', { rate: rate.value.trim() }))),
            readOnly ? el('td') : cell(soft, hard, button('set', () => limit('time-limit', { soft: soft.value.trim(), hard: hard.value.trim() }))));
          return tr;
        }), 'no live worker');
      }
      const schedules = await api('schedules');
      fill('schedules', schedules.map((s) => {
        const tr = el('tr'); tr.dataset.schedule = s.name;
        tr.append(el('td', s.name), el('td', s.task), el('td', s.queue), el('td', s.cron ? s.cron + (s.timezone ? ' (' + s.timezone + ')' : '') : 'every ' + (s.every / 1000) + ' s'),
          el('td', s.paused ? '' : time(s.nextRunAt)), el('td', time(s.lastRunAt)), el('td', s.paused ? 'paused' : 'active', s.paused ? 'bad' : ''),
          readOnly ? el('td') : cell(button(s.paused ? 'resume' : 'pause', async () => { await post('schedules/' + encodeURIComponent(s.name) + '/' + (s.paused ? 'resume' : 'pause')); refresh(); })));
        return tr;
      }), 'no schedules');
    } catch (err) {
      status.className = 'down';
      status.textContent = 'cannot reach the broker: ' + err.message;
    }
  }

  async function control(worker, op, body, confirmText) {
    if (confirmText && !confirm(confirmText)) return;
    const out = $('worker-result');
    try {
      const r = await post('workers/' + encodeURIComponent(worker) + '/' + op, body);
      const d = r.replies[0] && r.replies[0].data;
      out.textContent = worker + ': ' + op + ' done' + (d && d.concurrency !== undefined ? ', concurrency ' + d.concurrency : '') + (d && d.queues ? ', queues ' + d.queues.join(', ') : '');
    } catch (err) { out.textContent = worker + ': ' + op + ' failed: ' + err.message; }
    await refresh();
  }

  // ---------- dead letters and rejected messages ----------
  let parked = null;
  async function showParked(queue, kind) {
    parked = { queue, kind };
    $('parked-queue').textContent = queue + ' (' + kind + ')';
    $('parked-queue').className = '';
    $('parked-actions').hidden = readOnly;
    $('parked-check-all').checked = false;
    const rows = await api('queues/' + encodeURIComponent(queue) + '/' + kind + '?limit=200');
    fill('parked', rows.map((e) => {
      const m = parseRaw(e.raw);
      const tr = el('tr'); if (e.id) tr.dataset.id = e.id;
      const box = el('input'); box.type = 'checkbox'; box.className = 'pick-parked'; box.disabled = !e.id; box.value = e.id || '';
      tr.append(cell(box), el('td', time(e.at)), el('td', m && m.task || ''), el('td', e.id || ''), el('td', kind), el('td', e.error ? e.error.type + ': ' + e.error.message : e.reason),
        el('td', m ? shorten(JSON.stringify(m.args), 120) : shorten(e.raw, 120)),
        readOnly || !e.id ? el('td') : cell(button('replay', () => parkedAction('replay', { ids: [e.id] }))));
      return tr;
    }), 'nothing here');
  }
  async function parkedAction(op, body, confirmText) {
    if (!parked) return;
    if (confirmText && !confirm(confirmText)) return;
    const r = await post('queues/' + encodeURIComponent(parked.queue) + '/' + parked.kind + '/' + op, body);
    $('parked-result').textContent = (op === 'replay' ? 'replayed ' : 'deleted ') + r.count;
    await showParked(parked.queue, parked.kind);
    await refresh();
  }
  const selected = () => [...document.querySelectorAll('#parked .pick-parked:checked')].map((b) => b.value).filter(Boolean);
  $('parked-check-all').addEventListener('change', (e) => { for (const b of document.querySelectorAll('#parked .pick-parked:not(:disabled)')) b.checked = e.target.checked; });
  $('replay-selected').addEventListener('click', () => { const ids = selected(); if (ids.length) parkedAction('replay', { ids }); });
  $('replay-all').addEventListener('click', () => parkedAction('replay', { all: true }, 'Replay every ' + parked.kind + ' entry of "' + parked.queue + '"?'));
  $('delete-selected').addEventListener('click', () => { const ids = selected(); if (ids.length) parkedAction('delete', { ids }, 'Delete ' + ids.length + ' ' + parked.kind + ' entr' + (ids.length === 1 ? 'y' : 'ies') + ' of "' + parked.queue + '"?'); });
  $('delete-all').addEventListener('click', () => parkedAction('delete', { all: true }, 'Delete every ' + parked.kind + ' entry of "' + parked.queue + '"?'));

  // ---------- task list ----------
  const tasks = new Map();
  let filter = {};
  const STATE = { 'task-sent': 'SENT', 'task-received': 'RECEIVED', 'task-started': 'STARTED', 'task-succeeded': 'SUCCESS', 'task-failed': 'FAILURE', 'task-retried': 'RETRY', 'task-revoked': 'REVOKED', 'task-rejected': 'REJECTED' };
  function readFilter() {
    const t = (id) => { const v = $(id).value; return v ? String(new Date(v).getTime()) : ''; };
    filter = { state: $('f-state').value, task: $('f-task').value.trim(), queue: $('f-queue').value.trim(), worker: $('f-worker').value.trim(), from: t('f-from'), to: t('f-to'), search: $('f-search').value.trim() };
  }
  function matches(t) {
    const s = (filter.search || '').toLowerCase();
    return (!filter.state || t.state === filter.state) && (!filter.task || t.task === filter.task) && (!filter.queue || t.queue === filter.queue) &&
      (!filter.worker || t.worker === filter.worker) && (!filter.from || t.at >= Number(filter.from)) && (!filter.to || t.at <= Number(filter.to)) &&
      (!s || t.id.toLowerCase().includes(s) || (t.argsrepr || '').toLowerCase().includes(s));
  }
  function renderTasks() {
    const rows = [...tasks.values()].filter(matches).sort((a, b) => b.at - a.at).slice(0, 200);
    fill('tasks', rows.map((t) => {
      const tr = el('tr', undefined, 'pick'); tr.dataset.id = t.id;
      tr.append(stateCell(t.state), el('td', t.task || ''), el('td', t.id), el('td', t.queue || ''), el('td', t.worker || ''), el('td', t.argsrepr || ''),
        el('td', t.exception || t.resultrepr || '', t.exception ? 'bad' : ''), num(t.retries || 0), el('td', t.runtime !== undefined ? t.runtime + ' ms' : '', 'num'), el('td', time(t.at)));
      tr.addEventListener('click', () => { $('task-id').value = t.id; lookup(t.id); location.hash = 'detail-h'; });
      return tr;
    }), eventsOn ? 'no task matches' : 'the task list needs the events option');
  }
  async function loadTasks() {
    readFilter();
    const qs = new URLSearchParams(Object.entries(filter).filter(([, v]) => v)).toString();
    const r = await api('tasks' + (qs ? '?' + qs : ''));
    tasks.clear();
    for (const t of r.tasks) tasks.set(t.id, t);
    renderTasks();
  }
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); loadTasks(); });
  $('f-clear').addEventListener('click', () => { $('filters').reset(); loadTasks(); });

  // ---------- task detail ----------
  let shown = null;
  async function revoke(id, terminate) {
    if (!confirm((terminate ? 'Terminate' : 'Revoke') + ' task ' + id + '?')) return;
    await post('tasks/' + encodeURIComponent(id) + '/revoke', { terminate });
    await lookup(id);
    await refresh();
  }
  function kv(pairs) {
    const dl = el('dl', undefined, 'kv');
    for (const [k, v] of pairs) if (v !== undefined && v !== null && v !== '') dl.append(el('dt', k), v instanceof Node ? v : el('dd', v));
    return dl;
  }
  function treeList(nodes) {
    const ul = el('ul', undefined, 'tree');
    for (const n of nodes) {
      const li = el('li');
      const a = button((n.task || '?') + ' [' + n.id + ']', () => { $('task-id').value = n.id; lookup(n.id); });
      li.append(a, el('span', ' ' + n.state, 'state-' + n.state));
      if (n.children && n.children.length) li.append(treeList(n.children));
      ul.append(li);
    }
    return ul;
  }
  async function lookup(id) {
    shown = id;
    const out = $('task');
    try {
      const t = await api('tasks/' + encodeURIComponent(id));
      out.replaceChildren();
      const r = t.record;
      const state = r ? r.state : 'PENDING';
      const head = el('div', undefined, 'row');
      head.id = 'task-state';
      head.append(el('span', 'state: '), el('span', state, 'state-' + state), el('span', t.queue ? '  ·  queue: ' + t.queue : ''));
      if (!readOnly && !['SUCCESS', 'FAILURE', 'REVOKED'].includes(state)) head.append(button('revoke', () => revoke(id, false)), button('terminate', () => revoke(id, true), true));
      const firstWith = (f) => { const e = t.events.find((x) => x[f] !== undefined); return e ? e[f] : undefined; };
      out.append(head, kv([
        ['id', t.id], ['task', (r && r.task) || firstWith('task')], ['worker', r && r.worker], ['retries', r && r.retries !== undefined ? String(r.retries) : undefined],
        ['runtime', r && r.runtime !== undefined ? r.runtime + ' ms' : undefined], ['at', r ? time(r.at) : undefined],
        ['arguments', firstWith('argsrepr')], ['result', r && r.result !== undefined ? JSON.stringify(r.result) : undefined],
        ['error', r && r.error ? r.error.type + ': ' + r.error.message : undefined],
      ]));
      if (r && r.error && r.error.stack) { out.append(el('h3', 'Traceback')); const pre = el('pre', r.error.stack); pre.id = 'traceback'; out.append(pre); }
      out.append(el('h3', 'Workflow'));
      const wf = el('div'); wf.id = 'workflow';
      if (t.parents.length) { wf.append(el('div', 'parents (root first):')); wf.append(treeList(t.parents.map((p) => Object.assign({ children: [] }, p)))); }
      wf.append(el('div', t.children.length ? 'children:' : 'no children', t.children.length ? '' : 'empty'));
      if (t.children.length) wf.append(treeList(t.children));
      out.append(wf);
      out.append(el('h3', 'Timeline'));
      const tl = el('table'); tl.id = 'timeline';
      const tb = el('tbody');
      if (!t.events.length) { const tr = el('tr'); tr.append(el('td', eventsOn ? 'no events kept for this task' : 'the timeline needs the events option', 'empty')); tb.append(tr); }
      for (const e of t.events) {
        const { cursor, type, at, id: _id, task, queue, ...rest } = e;
        const tr = el('tr');
        tr.append(el('td', time(at)), el('td', type), el('td', e.worker || ''), el('td', Object.entries(rest).filter(([k]) => k !== 'worker').map(([k, v]) => k + '=' + (typeof v === 'string' ? v : JSON.stringify(v))).join('  ')));
        tb.append(tr);
      }
      tl.append(tb); out.append(tl);
      out.append(el('h3', 'Record'));
      out.append(el('pre', JSON.stringify(r, null, 2)));
    } catch (err) { out.replaceChildren(el('div', err.message, 'bad')); }
  }
  $('revoke-name').addEventListener('submit', async (e) => {
    e.preventDefault();
    const task = $('revoke-pattern').value.trim();
    const terminate = $('revoke-terminate').checked;
    if (!task || !confirm('Revoke every task named "' + task + '"' + (terminate ? ' and terminate those running' : '') + '? Workers keep refusing that name for the result lifetime.')) return;
    try {
      const r = await post('revoke-by-name', { task, terminate });
      $('revoke-result').textContent = 'revoked ' + r.revoked.length + ' now' + (r.revoked.length ? ': ' + r.revoked.join(', ') : '');
    } catch (err) { $('revoke-result').textContent = 'failed: ' + err.message; }
    refresh();
  });
  $('lookup').addEventListener('submit', (e) => { e.preventDefault(); const id = $('task-id').value.trim(); if (id) lookup(id); });

  // ---------- live updates: one EventSource per page; the server reads the stream once per process ----------
  let pending = false, overviewSoon = null, detailSoon = null;
  function onEvent(e) {
    if (e.id && STATE[e.type]) {
      const t = tasks.get(e.id) || { id: e.id, sentAt: e.at };
      // 'task-sent' is written after publishing: a fast worker's events may come first
      if (!(e.type === 'task-sent' && t.state && t.state !== 'SENT')) { t.at = Math.max(t.at || 0, e.at); t.state = STATE[e.type]; }
      for (const f of ['task', 'queue', 'worker', 'argsrepr', 'resultrepr', 'exception', 'retries', 'runtime']) if (e[f] !== undefined) t[f] = e[f];
      tasks.set(e.id, t);
      if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; renderTasks(); }); }
      if (shown === e.id && !detailSoon) detailSoon = setTimeout(() => { detailSoon = null; lookup(shown); }, 150);
    }
    if (!overviewSoon) overviewSoon = setTimeout(() => { overviewSoon = null; refresh(); }, 500);
  }
  function connect() {
    const live = $('live');
    const source = new EventSource(base + '/api/stream');
    source.onopen = () => { live.textContent = 'live: on'; live.className = 'on'; };
    source.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch {} };
    source.onerror = () => { live.textContent = 'live: reconnecting'; live.className = ''; };
  }

  refresh().then(() => { if (eventsOn) { loadTasks(); connect(); } else renderTasks(); });
  setInterval(refresh, 5000);
})();
`;
