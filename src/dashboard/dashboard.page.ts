/**
 * The dashboard's page: one self-contained HTML document (no build step, no
 * external assets) that polls the JSON endpoints next to it. Everything it
 * shows is set through textContent, never as HTML: task arguments and errors
 * are untrusted.
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
<style nonce="${attr(opts.nonce)}">
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 3rem; }
  h1 { font-size: 1.4rem; margin: .5rem 0 0; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
  #status { color: #5a6275; font-size: .9rem; margin: .2rem 0 1rem; }
  #status.down { color: #b3261e; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e6e8ee; font-size: .9rem; vertical-align: top; }
  th { background: #eef0f5; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.bad { color: #b3261e; font-weight: 600; }
  button { font: inherit; font-size: .85rem; padding: .2rem .6rem; border: 1px solid #b9bfcc; background: #fff; border-radius: 4px; cursor: pointer; }
  button.danger { border-color: #d77; color: #a11; }
  input { font: inherit; padding: .3rem .5rem; border: 1px solid #b9bfcc; border-radius: 4px; width: 22rem; }
  pre { background: #fff; padding: .8rem; overflow: auto; box-shadow: 0 1px 2px rgba(0,0,0,.08); font-size: .85rem; }
  .empty { color: #7a8194; font-style: italic; }
  .row { display: flex; gap: .5rem; align-items: center; }
</style>
</head>
<body>
<h1>Task queue</h1>
<div id="status">loading…</div>

<h2>Queues</h2>
<table id="queues"><thead><tr><th>queue</th><th>ready</th><th>delayed</th><th>running</th><th>dead</th><th>rejected</th><th></th></tr></thead><tbody></tbody></table>

<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>queues</th><th>running</th><th>succeeded</th><th>failed</th><th>retried</th><th>heartbeat</th></tr></thead><tbody></tbody></table>

<h2>Running now</h2>
<table id="active"><thead><tr><th>task</th><th>id</th><th>queue</th><th>worker</th><th>for</th><th></th></tr></thead><tbody></tbody></table>

<h2>Task</h2>
<form id="lookup" class="row"><input id="task-id" placeholder="task id" autocomplete="off"><button type="submit">Look up</button></form>
<div id="task"></div>

<h2 id="parked-title">Dead letters and rejected messages</h2>
<div class="row"><span>Queue:</span><span id="parked-queue" class="empty">pick one above (its dead or rejected count)</span></div>
<table id="parked"><thead><tr><th>when</th><th>id</th><th>kind</th><th>reason</th></tr></thead><tbody></tbody></table>

<script nonce="${attr(opts.nonce)}">
(() => {
  const base = location.pathname.replace(/\\/+$/, '');
  let readOnly = true;
  const csrf = document.querySelector('meta[name="taskqueue-csrf"]').content;
  const api = async (path, init = {}) => {
    const headers = Object.assign({}, init.headers);
    if (init.method && init.method !== 'GET') headers['x-taskqueue-csrf'] = csrf;
    const res = await fetch(base + '/api/' + path, Object.assign({}, init, { headers, credentials: 'same-origin' }));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || res.statusText);
    return body;
  };
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const ago = (at) => Math.max(0, Math.round((Date.now() - at) / 100) / 10) + ' s ago';
  const fill = (id, rows, empty) => {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (!rows.length) { const tr = el('tr'); const td = el('td', empty, 'empty'); td.colSpan = 8; tr.append(td); body.append(tr); return; }
    for (const cells of rows) { const tr = el('tr'); for (const c of cells) tr.append(c instanceof Node ? c : el('td', c)); body.append(tr); }
  };
  const num = (n, bad) => el('td', n, 'num' + (bad && n > 0 ? ' bad' : ''));
  const button = (label, onClick, danger) => { const b = el('button', label, danger ? 'danger' : ''); b.type = 'button'; b.addEventListener('click', onClick); return b; };
  const cell = (...children) => { const td = el('td'); td.append(...children); return td; };

  async function showParked(queue, kind) {
    document.getElementById('parked-queue').textContent = queue + ' (' + kind + ')';
    document.getElementById('parked-queue').className = '';
    const rows = await api('queues/' + encodeURIComponent(queue) + '/' + kind + '?limit=100');
    fill('parked', rows.map((e) => [new Date(e.at).toISOString(), e.id || '', kind, e.error ? e.error.type + ': ' + e.error.message : e.reason]), 'nothing here');
  }

  async function revoke(id, terminate) {
    if (!confirm((terminate ? 'Terminate' : 'Revoke') + ' task ' + id + '?')) return;
    await api('tasks/' + encodeURIComponent(id) + '/revoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ terminate }) });
    await lookup(id);
    await refresh();
  }

  async function lookup(id) {
    const out = document.getElementById('task');
    out.replaceChildren();
    try {
      const t = await api('tasks/' + encodeURIComponent(id));
      const state = t.record ? t.record.state : 'PENDING';
      const head = el('div', 'state: ' + state + (t.queue ? '  ·  queue: ' + t.queue : ''), 'row');
      head.id = 'task-state';
      if (!readOnly && !['SUCCESS', 'FAILURE', 'REVOKED'].includes(state)) head.append(button('revoke', () => revoke(id, false)), button('terminate', () => revoke(id, true), true));
      out.append(head, el('pre', JSON.stringify(t.record, null, 2)));
    } catch (err) { out.append(el('div', err.message, 'bad')); }
  }

  async function refresh() {
    const status = document.getElementById('status');
    try {
      const o = await api('overview');
      readOnly = o.readOnly;
      status.className = '';
      status.textContent = 'broker ' + o.brokerLatencyMs.toFixed(2) + ' ms  ·  ' + o.workers.length + ' worker(s)  ·  beat: ' + (o.beat ? o.beat.id + ', ' + ago(o.beat.at) : 'none') + '  ·  updated ' + new Date(o.at).toLocaleTimeString();
      fill('queues', o.queues.map((q) => [
        q.queue, num(q.ready), num(q.delayed), num(q.reserved),
        cell(button(String(q.dead), () => showParked(q.queue, 'dead'))),
        cell(button(String(q.rejected), () => showParked(q.queue, 'rejected'))),
        readOnly ? '' : cell(button('purge', async () => { if (confirm('Delete every message and result of ' + q.queue + '?')) { await api('queues/' + encodeURIComponent(q.queue) + '/purge', { method: 'POST' }); refresh(); } }, true)),
      ]), 'no queues yet');
      fill('workers', o.workers.map((w) => [w.id, w.queues.join(', '), w.running + ' / ' + w.concurrency, num(w.succeeded), num(w.failed, true), num(w.retried), ago(w.at)]), 'no live worker');
      const active = await api('active');
      fill('active', active.flatMap((w) => w.tasks.map((t) => [t.task || '', t.id, t.queue, w.worker, ago(t.startedAt), readOnly ? '' : cell(button('terminate', () => revoke(t.id, true), true))])), 'nothing running');
    } catch (err) {
      status.className = 'down';
      status.textContent = 'cannot reach the broker: ' + err.message;
    }
  }

  document.getElementById('lookup').addEventListener('submit', (e) => { e.preventDefault(); const id = document.getElementById('task-id').value.trim(); if (id) lookup(id); });
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>`;
}
