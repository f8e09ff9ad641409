/**
 * The dashboard page: HTML, style and script, kept as strings so they are bundled into the
 * `taskmill` command with nothing to build or copy. The script builds every element with
 * `textContent` and `setAttribute`, never with HTML strings, so task ids, payloads, results and
 * errors from Redis always show as text.
 *
 * The script is plain browser JavaScript inside String.raw: it uses no backquotes.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskmill dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <a href="#/" class="brand">taskmill</a>
  <form id="search" autocomplete="off">
    <select id="search-ns" aria-label="namespace"></select>
    <input id="search-id" placeholder="task id" aria-label="task id">
    <button type="submit">Find</button>
  </form>
  <span id="mode"></span>
  <span id="live" class="live">connecting…</span>
</header>
<main id="view"></main>
</body>
</html>
`

export const PAGE_CSS = String.raw`
:root { --fg: #1d232b; --muted: #66707c; --line: #d8dde3; --bg: #f5f7f9; --card: #fff; --accent: #2f6fdb;
  --waiting: #9aa5b1; --delayed: #b08bd9; --ready: #3d8fd8; --assigned: #33a3a3; --running: #e0a100;
  --retrying: #e07b00; --completed: #2f9e44; --dead: #d6336c; --canceled: #7d7d7d; --removed: #c8ccd0; --remote: #c8ccd0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: center; padding: 10px 20px; background: #1d232b; color: #fff; }
header .brand { color: #fff; font-weight: 700; font-size: 16px; text-decoration: none; }
header form { display: flex; gap: 6px; margin-left: auto; }
header input, header select, header button { font: inherit; padding: 3px 8px; border-radius: 4px; border: 1px solid #56606b; }
.live { font-size: 12px; color: #aab4bf; }
.live.on::before { content: "● "; color: #51cf66; }
#mode { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #39424d; }
#mode.actions { background: #a8551a; }
main { padding: 16px 20px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
.ns-head { display: flex; align-items: baseline; gap: 12px; }
.ns-head .meta { color: var(--muted); font-size: 12px; }
.counts { display: grid; grid-template-columns: repeat(9, minmax(80px, 1fr)); gap: 8px; margin: 10px 0; }
.count { border: 1px solid var(--line); border-left: 4px solid var(--c, #999); border-radius: 6px; padding: 6px 8px; text-decoration: none; color: var(--fg); }
.count .n { font-size: 18px; font-weight: 600; display: block; }
.count .s { font-size: 12px; color: var(--muted); }
.row { display: flex; gap: 16px; flex-wrap: wrap; }
.row > * { flex: 1 1 380px; min-width: 0; }
.row > .nodes { flex: 1.5 1 520px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: 0 7px; border-radius: 9px; color: #fff; font-size: 12px; background: var(--c, #999); }
.stale { color: #fff; background: #d6336c; border-radius: 9px; padding: 0 7px; font-size: 12px; }
.chart svg { width: 100%; height: 140px; display: block; }
.chart .legend { font-size: 12px; color: var(--muted); }
.chart .legend b.c { color: var(--completed); } .chart .legend b.f { color: var(--dead); }
pre.value { background: #f0f2f5; border: 1px solid var(--line); border-radius: 6px; padding: 8px; white-space: pre-wrap; word-break: break-all; max-height: 300px; overflow: auto; margin: 0; }
.tag { font-size: 11px; color: var(--muted); margin-left: 6px; }
.tabs { display: flex; gap: 4px; flex-wrap: wrap; margin-bottom: 10px; }
.tabs a { padding: 3px 10px; border-radius: 12px; border: 1px solid var(--line); text-decoration: none; color: var(--fg); background: #fff; }
.tabs a.on { background: var(--accent); color: #fff; border-color: var(--accent); }
.pager { margin-top: 10px; display: flex; gap: 8px; align-items: center; }
button { font: inherit; cursor: pointer; padding: 3px 10px; border-radius: 4px; border: 1px solid var(--line); background: #fff; }
button.act { border-color: #a8551a; color: #a8551a; }
.error { color: #c92a2a; }
.notice { color: var(--muted); font-size: 12px; }
dl.record { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.record dt { color: var(--muted); } dl.record dd { margin: 0; word-break: break-all; }
.graph svg { width: 100%; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; }
.graph text { font-size: 11px; fill: #fff; pointer-events: none; }
.graph .graph-node rect { stroke: #1d232b; stroke-width: 0; }
.graph .graph-node.root rect { stroke-width: 3; }
.graph line { stroke: #8a949e; stroke-width: 1.5; }
.empty { color: var(--muted); }
.queues { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; font-size: 13px; margin: 0 0 8px; }
.queues .label { color: var(--muted); }
.queues .paused { display: inline-flex; gap: 6px; align-items: center; padding: 1px 4px 1px 10px; border-radius: 12px; background: #fff4e6; border: 1px solid #e0a100; }
.queues .paused button { padding: 0 8px; font-size: 12px; }
.queues form { display: flex; gap: 4px; margin-left: auto; }
.queues input { font: inherit; padding: 2px 6px; border-radius: 4px; border: 1px solid var(--line); width: 140px; }
`

export const PAGE_JS = String.raw`
'use strict';
(function () {
  var STATES = ['waiting', 'delayed', 'ready', 'assigned', 'running', 'retrying', 'completed', 'dead', 'canceled'];
  var SVG = 'http://www.w3.org/2000/svg';
  var config = { allowActions: false };
  var overview = [];
  var hidden = 0;
  var refreshTimer = null;
  // The outcome of the last action, shown on its task's page until another page is opened.
  var lastAction = { key: '', text: '', error: false };

  // Every element is built here: text goes in as text nodes, never as HTML.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'onclick') node.addEventListener('click', value);
      else if (key === 'style') Object.keys(value).forEach(function (p) { node.style.setProperty(p, value[p]); });
      else node.setAttribute(key, String(value));
    });
  }
  function append(node) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
      else node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    }
  }
  function stateColour(state) { return 'var(--' + (STATES.indexOf(state) >= 0 || state === 'removed' || state === 'remote' ? state : 'removed') + ')'; }
  function stateBadge(state) { return el('span', { class: 'state', 'data-state': state, style: { '--c': stateColour(state) }, text: state }); }
  function time(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '—'; }
  function ago(ms) {
    if (!ms) return 'never';
    var s = Math.max(0, (Date.now() - ms) / 1000);
    return s < 60 ? s.toFixed(0) + ' s ago' : s < 3600 ? (s / 60).toFixed(0) + ' min ago' : (s / 3600).toFixed(1) + ' h ago';
  }
  function pct(x) { return (x * 100).toFixed(1) + '%'; }
  function hashFor(parts) { return '#/' + parts.map(encodeURIComponent).join('/'); }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: 'application/json' } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.statusText);
        return body;
      });
    });
  }

  function action(name, ns, id) { return post(name, { ns: ns, id: id }); }

  function post(name, body) {
    return fetch('/api/actions/' + name, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Taskmill-Action': '1' },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.statusText);
        return body;
      });
    });
  }

  // ---- overview ----------------------------------------------------------------------------
  function renderOverview(view) {
    var root = el('div', { id: 'overview' });
    if (overview.length === 0) append(root, el('p', { class: 'empty', text: 'No namespace found yet.' }));
    overview.forEach(function (ns) { append(root, namespaceCard(ns)); });
    if (hidden > 0) append(root, el('p', { class: 'notice', id: 'hidden', text: hidden + ' more namespace' + (hidden === 1 ? ' is' : 's are') + ' not shown: name the ones to watch with --namespace.' }));
    // The page is redrawn every second: a queue name being typed keeps its text and the focus.
    var active = document.activeElement;
    var typing = active && active.classList && active.classList.contains('pause-name') ? active.getAttribute('data-ns') : null;
    view.replaceChildren(root);
    if (typing !== null) {
      var inputs = root.querySelectorAll('input.pause-name');
      for (var i = 0; i < inputs.length; i++) if (inputs[i].getAttribute('data-ns') === typing) inputs[i].focus();
    }
  }

  function namespaceCard(ns) {
    var card = el('section', { class: 'card namespace', 'data-namespace': ns.name });
    append(card, el('div', { class: 'ns-head' },
      el('h2', { text: ns.name }),
      el('span', { class: 'meta', text: ns.partitions + ' partition' + (ns.partitions === 1 ? '' : 's') + (ns.strategy ? ' · ' + ns.strategy : '') })));
    if (ns.error) append(card, el('p', { class: 'error', text: ns.error }));
    var counts = el('div', { class: 'counts' });
    STATES.forEach(function (state) {
      append(counts, el('a', { class: 'count', href: hashFor(['ns', ns.name, 'tasks', state]), 'data-count': state, style: { '--c': stateColour(state) } },
        el('span', { class: 'n', text: ns.counts[state] }), el('span', { class: 's', text: state })));
    });
    append(card, counts);
    append(card, queuesLine(ns));
    append(card, el('div', { class: 'row' }, throughputChart(ns.throughput), nodesTable(ns.nodes)));
    return card;
  }

  // The outcome of the last queue action, per namespace, shown on its card until the next one.
  var queueMessages = {};
  // What is typed in each namespace's pause box, kept across redraws.
  var pauseDrafts = {};
  var QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

  function queueAction(name, ns, queue) {
    if (!QUEUE_NAME.test(queue)) {
      queueMessages[ns] = { text: 'queue: expected 1 to 128 characters of A-Z a-z 0-9 _ . : -', error: true };
      renderOverview(document.getElementById('view'));
      return;
    }
    if (name === 'pause-queue') pauseDrafts[ns] = '';
    post(name, { ns: ns, queue: queue }).then(function (reply) {
      var verb = name === 'pause-queue' ? 'paused' : 'resumed';
      queueMessages[ns] = { text: queue + ': ' + (reply.outcome.changed ? verb : 'already ' + verb), error: false };
      return getJSON('/api/overview').then(function (body) { onOverview(body.namespaces, body.hidden); });
    }).catch(function (error) {
      queueMessages[ns] = { text: name + ' refused: ' + error.message, error: true };
    }).then(function () { if (document.getElementById('overview')) renderOverview(document.getElementById('view')); });
  }

  function queuesLine(ns) {
    var paused = ns.pausedQueues || [];
    var line = el('div', { class: 'queues', 'data-paused-queues': paused.join(',') }, el('span', { class: 'label', text: 'Paused queues: ' }));
    if (!paused.length) append(line, el('span', { class: 'empty', text: 'none' }));
    paused.forEach(function (queue) {
      append(line, el('span', { class: 'paused', 'data-paused-queue': queue }, el('span', { class: 'queue-name', text: queue }),
        config.allowActions ? el('button', { class: 'act', 'data-resume': queue, onclick: function () { queueAction('resume-queue', ns.name, queue); }, text: 'resume' }) : null));
    });
    if (config.allowActions) {
      var input = el('input', { class: 'pause-name', 'data-ns': ns.name, placeholder: 'queue', 'aria-label': 'queue to pause', maxlength: 128 });
      input.value = pauseDrafts[ns.name] || '';
      input.addEventListener('input', function () { pauseDrafts[ns.name] = input.value; });
      var form = el('form', { class: 'pause-form', autocomplete: 'off' }, input, el('button', { type: 'submit', class: 'act', text: 'pause queue' }));
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        queueAction('pause-queue', ns.name, input.value.trim());
      });
      append(line, form);
    }
    var message = queueMessages[ns.name];
    if (message) append(line, el('span', { class: message.error ? 'error queue-message' : 'notice queue-message', text: message.text }));
    return line;
  }

  function throughputChart(points) {
    var width = 600, height = 140, pad = 24;
    var max = 1;
    points.forEach(function (p) { max = Math.max(max, p.completed, p.failed); });
    var last = points.length ? points[points.length - 1] : { completed: 0, failed: 0 };
    var now = points.length ? points[points.length - 1].at : Date.now();
    // The chart spans the samples the server holds (five minutes at most), at least 30 seconds.
    var span = Math.max(30, Math.min(300, points.length ? (now - points[0].at) / 1000 : 0));
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'completed and failed per second' });
    append(chart, svg('line', { x1: pad, y1: height - pad, x2: width, y2: height - pad, stroke: '#d8dde3' }));
    append(chart, svg('text', { x: 2, y: 12, 'font-size': 10, fill: '#66707c', text: max.toFixed(max < 10 ? 1 : 0) + '/s' }));
    append(chart, svg('text', { x: 2, y: height - pad, 'font-size': 10, fill: '#66707c', text: '0' }));
    append(chart, svg('text', { x: pad, y: height - 6, 'font-size': 10, fill: '#66707c', text: '-' + Math.round(span) + ' s' }));
    append(chart, svg('text', { x: width - 24, y: height - 6, 'font-size': 10, fill: '#66707c', text: 'now' }));
    function line(field, colour) {
      if (points.length < 2) return null;
      var coords = points.map(function (p) {
        var x = pad + (width - pad) * (1 - (now - p.at) / 1000 / span);
        var y = height - pad - (height - 2 * pad) * (p[field] / max);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      return svg('polyline', { points: coords.join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, 'data-series': field });
    }
    append(chart, line('completed', '#2f9e44'), line('failed', '#d6336c'));
    return el('div', { class: 'chart' },
      el('h3', { text: 'Throughput' }), chart,
      el('div', { class: 'legend' }, el('b', { class: 'c', text: 'completed ' }), last.completed.toFixed(1) + '/s  ',
        el('b', { class: 'f', text: ' failed ' }), last.failed.toFixed(1) + '/s', ' (per second, sampled every second)'));
  }

  function nodesTable(nodes) {
    var box = el('div', { class: 'nodes' }, el('h3', { text: 'Nodes' }));
    if (!nodes.length) { append(box, el('p', { class: 'empty', text: 'No worker node registered.' })); return box; }
    var head = el('tr', null, ['node', 'weight', 'capacity', 'in flight', 'completed', 'failed', 'share', 'promised', 'heartbeat', ''].map(function (h, i) {
      return el('th', { class: i > 0 && i < 8 ? 'num' : null, text: h });
    }));
    var body = el('tbody');
    nodes.forEach(function (n) {
      append(body, el('tr', { 'data-node': n.id },
        el('td', { text: n.id }), el('td', { class: 'num', text: n.weight }), el('td', { class: 'num', text: n.capacity }),
        el('td', { class: 'num', text: n.inflight }), el('td', { class: 'num', text: n.completed }), el('td', { class: 'num', text: n.failed }),
        el('td', { class: 'num', text: pct(n.share) }), el('td', { class: 'num', text: pct(n.promised) }),
        el('td', { title: time(n.lastSeenAt), text: ago(n.lastSeenAt) }),
        el('td', null, n.stale ? el('span', { class: 'stale', text: 'stale' }) : null)));
    });
    append(box, el('table', null, el('thead', null, head), body));
    append(box, el('p', { class: 'notice', text: 'share: of the tasks the nodes took (completed, failed and in flight); promised: the node\u2019s weight over the weights of the nodes that are not stale.' }));
    return box;
  }

  // ---- task lists ---------------------------------------------------------------------------
  function renderTasks(view, ns, state, cursor, trail) {
    var tabs = el('div', { class: 'tabs' }, STATES.map(function (s) {
      return el('a', { href: hashFor(['ns', ns, 'tasks', s]), class: s === state ? 'on' : null, text: s });
    }));
    var box = el('section', { class: 'card' }, el('h1', null, ns, ' · ', state), tabs, el('p', { class: 'empty', text: 'Loading…' }));
    view.replaceChildren(box);
    getJSON('/api/tasks?ns=' + encodeURIComponent(ns) + '&state=' + state + '&limit=25&cursor=' + encodeURIComponent(cursor)).then(function (page) {
      var rows = el('tbody');
      page.tasks.forEach(function (t) {
        append(rows, el('tr', { 'data-task': t.id },
          el('td', null, el('a', { href: hashFor(['ns', ns, 'task', t.id]), text: t.id })),
          el('td', null, stateBadge(t.state)), el('td', { text: t.queue }), el('td', { class: 'num', text: t.priority }),
          el('td', { class: 'num', text: t.attempts }), el('td', { text: time(t.enqueuedAt) }), el('td', { text: time(t.finishedAt) }),
          el('td', { text: t.node }), el('td', { class: 'num', text: t.partition })));
      });
      var table = el('table', null, el('thead', null, el('tr', null, ['id', 'state', 'queue', 'priority', 'attempts', 'enqueued', 'finished', 'node', 'partition'].map(function (h) {
        return el('th', { text: h });
      }))), rows);
      var pager = el('div', { class: 'pager' });
      if (trail.length) append(pager, el('button', { onclick: function () { go(['ns', ns, 'tasks', state].concat(trail.slice(0, -1).length ? [trail.slice(0, -1).join('|')] : [])); }, text: '← previous' }));
      if (page.cursor) append(pager, el('button', { 'data-next': '1', onclick: function () { go(['ns', ns, 'tasks', state, trail.concat([page.cursor]).join('|')]); }, text: 'next →' }));
      append(pager, el('span', { class: 'notice', text: page.tasks.length ? '' : (page.cursor ? 'nothing on this page; there may be more' : 'no task in this state') }));
      box.replaceChildren(box.firstChild, tabs, table, pager);
    }).catch(function (error) { box.replaceChildren(box.firstChild, tabs, el('p', { class: 'error', text: error.message })); });
  }

  // ---- one task -----------------------------------------------------------------------------
  function shown(value) {
    if (!value) return el('p', { class: 'empty', text: 'none' });
    return el('div', null, el('pre', { class: 'value', 'data-encoding': value.encoding, text: value.value }),
      el('span', { class: 'tag', text: value.bytes + ' bytes' + (value.encoding === 'hex' ? ', shown as hex (not printable UTF-8)' : '') }));
  }

  function progressShown(value) {
    if (!value) return el('p', { class: 'empty', text: 'none reported' });
    return el('div', null, el('pre', { class: 'value', 'data-kind': value.kind, text: value.value }),
      el('span', { class: 'tag', text: value.bytes + ' bytes' + (value.kind === 'json' ? ', JSON' : '') }));
  }

  function renderTask(view, ns, id, quiet) {
    return getJSON('/api/task?ns=' + encodeURIComponent(ns) + '&id=' + encodeURIComponent(id)).then(function (task) {
      var r = task.record;
      var record = el('dl', { class: 'record' });
      [['state', stateBadge(r.state)], ['queue', r.queue], ['priority', r.priority], ['partition', task.partition],
        ['attempts', r.attempts + ' of ' + r.maxAttempts + (r.lostAttempts ? ' (' + r.lostAttempts + ' lost)' : '')],
        ['depends on', r.dependsOn.length ? r.dependsOn.join(', ') : '—'], ['unmet dependencies', r.unmetDependencies],
        ['enqueued', time(r.enqueuedAt)], ['run at', time(r.runAt)], ['node', r.node || '—'], ['assigned', time(r.assignedAt)],
        ['started', time(r.startedAt)], ['finished', time(r.finishedAt)], ['cancel requested', r.cancelRequested ? 'yes' : 'no'],
        ['error', r.error || '—'], ['reason', r.reason || '—']].forEach(function (pair) {
        append(record, el('dt', { text: pair[0] }), el('dd', { 'data-field': pair[0] }, pair[1]));
      });
      var actions = el('div', { class: 'pager' });
      var key = ns + '\n' + id;
      var message = el('span', { id: 'action-message', class: lastAction.key === key && lastAction.error ? 'error' : 'notice', text: lastAction.key === key ? lastAction.text : '' });
      if (config.allowActions) {
        ['retry', 'cancel', 'remove'].forEach(function (name) {
          append(actions, el('button', { class: 'act', 'data-action': name, onclick: function () {
            if (name === 'remove' && !window.confirm('Remove task ' + id + '?')) return;
            action(name, ns, id).then(function (reply) {
              lastAction = { key: key, text: name + ': ' + reply.outcome, error: false };
              if (name === 'remove') go(['ns', ns, 'tasks', r.state]); else renderTask(view, ns, id, true);
            }).catch(function (error) {
              lastAction = { key: key, text: name + ' refused: ' + error.message, error: true };
              renderTask(view, ns, id, true);
            });
          }, text: name }));
        });
      } else {
        append(actions, el('span', { class: 'notice', text: 'Read-only: start the dashboard with --allow-actions to retry, cancel or remove.' }));
      }
      append(actions, message);
      var events = el('tbody');
      task.events.forEach(function (e) {
        append(events, el('tr', { 'data-event': e.type }, el('td', { text: time(e.at) }), el('td', { text: e.type }), el('td', { text: e.node }), el('td', { text: e.detail })));
      });
      var page = el('div', { id: 'task', 'data-task-id': r.id },
        el('section', { class: 'card' }, el('h1', null, el('a', { href: hashFor(['ns', ns, 'tasks', r.state]), text: ns }), ' / ', el('span', { id: 'task-title', text: r.id })), actions,
          el('div', { class: 'row' },
            el('div', null, el('h3', { text: 'Record' }), record),
            el('div', null,
              el('h3', { text: 'Progress' }), el('div', { id: 'progress' }, progressShown(task.progress)),
              el('h3', { text: 'Payload' }), el('div', { id: 'payload' }, shown(task.payload)),
              el('h3', { text: 'Result' }), el('div', { id: 'result' }, shown(task.result))))),
        el('section', { class: 'card graph' }, el('h3', { text: 'Dependencies' }), drawGraph(task.graph, r.id, ns)),
        el('section', { class: 'card' }, el('h3', { text: 'Events' }),
          task.events.length ? el('table', null, el('thead', null, el('tr', null, el('th', { text: 'at' }), el('th', { text: 'event' }), el('th', { text: 'node' }), el('th', { text: 'detail' }))), events)
            : el('p', { class: 'empty', text: 'No event of this task in the recent stream.' })));
      view.replaceChildren(page);
    }).catch(function (error) {
      if (!quiet) view.replaceChildren(el('section', { class: 'card' }, el('h1', { text: id }), el('p', { class: 'error', text: error.message })));
    });
  }

  function drawGraph(graph, rootId, ns) {
    if (!graph.nodes.length) return el('p', { class: 'empty', text: 'none' });
    var levels = {};
    graph.nodes.forEach(function (n) { (levels[n.level] = levels[n.level] || []).push(n); });
    var keys = Object.keys(levels).map(Number).sort(function (a, b) { return a - b; });
    var W = 150, H = 26, GX = 60, GY = 14;
    var tallest = Math.max.apply(null, keys.map(function (k) { return levels[k].length; }));
    var width = keys.length * (W + GX), height = tallest * (H + GY) + GY;
    var at = {};
    keys.forEach(function (k, col) {
      var column = levels[k];
      var top = (height - column.length * (H + GY) + GY) / 2;
      column.forEach(function (n, row) { at[n.id] = { x: col * (W + GX) + GX / 2, y: top + row * (H + GY) }; });
    });
    var picture = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, height: height, 'data-graph-nodes': graph.nodes.length, 'data-graph-edges': graph.edges.length });
    append(picture, svg('defs', null, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8a949e' }))));
    graph.edges.forEach(function (e) {
      var a = at[e.from], b = at[e.to];
      if (!a || !b) return;
      append(picture, svg('line', { class: 'graph-edge', 'data-from': e.from, 'data-to': e.to, x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2, 'marker-end': 'url(#arrow)' }));
    });
    graph.nodes.forEach(function (n) {
      var p = at[n.id];
      var label = n.id.length > 20 ? n.id.slice(0, 19) + '…' : n.id;
      var group = svg('g', { class: 'graph-node' + (n.id === rootId ? ' root' : ''), 'data-node-id': n.id, 'data-state': n.state, transform: 'translate(' + p.x + ',' + p.y + ')' },
        svg('title', { text: n.id + ' (' + n.state + ')' }),
        svg('rect', { width: W, height: H, rx: 5, style: { fill: stateColour(n.state) } }),
        svg('text', { x: 8, y: 17, text: label }));
      if (n.state !== 'remote') {
        group.style.cursor = 'pointer';
        group.addEventListener('click', function () { go(['ns', ns, 'task', n.id]); });
      }
      append(picture, group);
    });
    return el('div', null, picture,
      el('p', { class: 'notice', text: 'Dependencies on the left, dependents on the right, ' + (graph.truncated ? 'cut at 3 levels or 80 tasks. ' : 'up to 3 levels. ') +
        'A dependent is listed from its parent only until it finishes; a finished one still shows its own dependencies.' }));
  }

  // ---- routing ------------------------------------------------------------------------------
  function go(parts) { location.hash = hashFor(parts); }

  function route() {
    lastAction = { key: '', text: '', error: false };
    clearInterval(refreshTimer);
    refreshTimer = null;
    var view = document.getElementById('view');
    var parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'ns' && parts[2] === 'tasks' && parts[3]) {
      var trail = parts[4] ? parts[4].split('|') : [];
      renderTasks(view, parts[1], parts[3], trail.length ? trail[trail.length - 1] : '', trail);
    } else if (parts[0] === 'ns' && parts[2] === 'task' && parts[3] !== undefined) {
      renderTask(view, parts[1], parts[3], false);
      refreshTimer = setInterval(function () { renderTask(view, parts[1], parts[3], true); }, 3000);
    } else {
      renderOverview(view);
    }
  }

  function onOverview(namespaces, more) {
    overview = namespaces;
    hidden = more || 0;
    var select = document.getElementById('search-ns');
    var chosen = select.value;
    select.replaceChildren.apply(select, namespaces.map(function (ns) { return el('option', { value: ns.name, text: ns.name }); }));
    if (chosen) select.value = chosen;
    if (document.getElementById('overview') || location.hash === '' || location.hash === '#/') renderOverview(document.getElementById('view'));
  }

  function connect() {
    var live = document.getElementById('live');
    var source = new EventSource('/api/live');
    source.onopen = function () { live.textContent = 'live'; live.className = 'live on'; };
    source.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'live'; };
    source.onmessage = function (message) { var body = JSON.parse(message.data); onOverview(body.namespaces, body.hidden); };
  }

  document.getElementById('search').addEventListener('submit', function (event) {
    event.preventDefault();
    var id = document.getElementById('search-id').value.trim();
    var ns = document.getElementById('search-ns').value;
    if (id && ns) go(['ns', ns, 'task', id]);
  });
  window.addEventListener('hashchange', route);
  getJSON('/api/config').then(function (c) {
    config = c;
    var mode = document.getElementById('mode');
    mode.textContent = c.allowActions ? 'actions allowed' : 'read-only';
    mode.className = c.allowActions ? 'actions' : '';
    route();
    connect();
  });
})();
`
