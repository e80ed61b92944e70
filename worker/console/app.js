// Sluice web console: a small single-page app over the REST API, plain JavaScript with no build
// step, so the worker serves it as is. Views: #/ (connectors), #/connector/NAME, #/cluster,
// #/new and #/edit/NAME. Every value from the API goes into the page as text, never as HTML.
'use strict';

// The API is one level above /ui/; relative so the page works behind a proxy's path prefix.
const API = new URL('../', document.baseURI);
const REFRESH_MS = 5000;
const DLQ_LIMIT = 20;

// ---------------------------------------------------------------------------------------------
// the API

async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(new URL(path, API), init);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = text; }
  }
  if (!res.ok) {
    const error = new Error((data && data.message) || `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// metrics: the worker's Prometheus text, scraped on every refresh; a rate needs two scrapes

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const metrics = { now: null, before: null };

async function scrapeMetrics() {
  try {
    const res = await fetch(new URL('metrics', API));
    if (!res.ok) return;
    const scrape = { at: performance.now(), samples: parseMetrics(await res.text()) };
    metrics.before = metrics.now;
    metrics.now = scrape;
  } catch (_) {
    // No metrics (another Kafka Connect runtime, say): the columns stay empty.
  }
}

function sum(scrape, name, match) {
  if (!scrape) return null;
  let total = 0;
  let seen = false;
  for (const s of scrape.samples) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) {
      total += s.value;
      seen = true;
    }
  }
  return seen ? total : null;
}

// Records per second between the last two scrapes; null until there are two.
function rate(name, match) {
  const { now, before } = metrics;
  if (!now || !before) return null;
  const a = sum(before, name, match);
  const b = sum(now, name, match);
  const seconds = (now.at - before.at) / 1000;
  if (a === null || b === null || seconds <= 0 || b < a) return null;
  return (b - a) / seconds;
}

const lagOf = (match) => sum(metrics.now, 'sluice_consumer_lag', match);

function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

// ---------------------------------------------------------------------------------------------
// building the page

// h('td', {class: 'num'}, 'text', child, …): attributes starting with "on" are listeners.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const view = () => document.getElementById('view');

function show(...nodes) {
  view().replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== ''));
}

function flash(message, isError) {
  const el = document.getElementById('flash');
  el.textContent = message;
  el.className = isError ? 'error' : '';
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, isError ? 12000 : 4000);
}

const badge = (state, title) => h('span', { class: `state ${state}`, title }, state);

// Columns of numbers are right-aligned, their headings too.
const NUMERIC = new Set(['read/s', 'lag', 'partition', 'committed offset', 'partition/offset']);

function table(headings, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', { class: NUMERIC.has(t) ? 'num' : null }, t)))),
    h('tbody', {}, rows));
}

// A trace's first line as the summary; which traces are open survives the next refresh.
const openTraces = new Set();
function trace(id, text) {
  if (!text) return '';
  const d = h('details', { open: openTraces.has(id) },
    h('summary', {}, text.split('\n')[0].slice(0, 160)), h('pre', {}, text));
  d.addEventListener('toggle', () => (d.open ? openTraces.add(id) : openTraces.delete(id)));
  return d;
}

// ---------------------------------------------------------------------------------------------
// actions

const ACTIONS = {
  pause: { label: 'Pause', run: (c) => api('PUT', `connectors/${enc(c)}/pause`) },
  resume: { label: 'Resume', run: (c) => api('PUT', `connectors/${enc(c)}/resume`) },
  restart: { label: 'Restart', run: (c) => api('POST', `connectors/${enc(c)}/restart?includeTasks=true`) },
  'restart-failed': {
    label: 'Restart failed',
    run: (c) => api('POST', `connectors/${enc(c)}/restart?includeTasks=true&onlyFailed=true`),
  },
  stop: {
    label: 'Stop', danger: true,
    confirm: (c) => `Stop ${c}? Its tasks are removed until it is resumed.`,
    run: (c) => api('PUT', `connectors/${enc(c)}/stop`),
  },
  delete: {
    label: 'Delete', danger: true,
    confirm: (c) => `Delete connector ${c}? Its config is removed; its offsets stay in Kafka.`,
    run: (c) => api('DELETE', `connectors/${enc(c)}`),
  },
};

function actionButton(name, connector, after) {
  const a = ACTIONS[name];
  return h('button', {
    'data-action': name,
    class: a.danger ? 'danger' : null,
    onclick: async (e) => {
      if (a.confirm && !window.confirm(a.confirm(connector))) return;
      e.target.disabled = true;
      try {
        await a.run(connector);
        flash(`${a.label}: ${connector} — done.`);
      } catch (err) {
        flash(`${a.label} ${connector} failed: ${err.message}`, true);
      }
      (after || refresh)();
    },
  }, a.label);
}

function restartTaskButton(connector, task) {
  return h('button', {
    'data-action': 'restart-task',
    onclick: async () => {
      try {
        await api('POST', `connectors/${enc(connector)}/tasks/${task}/restart`);
        flash(`Task ${connector}-${task} restarted.`);
      } catch (err) {
        flash(`Restarting task ${task} of ${connector} failed: ${err.message}`, true);
      }
      refresh();
    },
  }, 'Restart');
}

// ---------------------------------------------------------------------------------------------
// #/ — every connector

async function connectorsView() {
  const [all] = await Promise.all([api('GET', 'connectors?expand=status&expand=info'), scrapeMetrics()]);
  const names = Object.keys(all || {}).sort();
  const rows = names.map((name) => {
    const { status, info } = all[name];
    const tasks = (status && status.tasks) || [];
    const running = tasks.filter((t) => t.state === 'RUNNING').length;
    const perWorker = {};
    for (const t of tasks) perWorker[t.worker_id] = (perWorker[t.worker_id] || 0) + 1;
    const state = status ? status.connector.state : 'UNKNOWN';
    return h('tr', { 'data-connector': name },
      h('td', {}, h('a', { href: `#/connector/${enc(name)}` }, name)),
      h('td', {}, badge(state, status && status.connector.worker_id)),
      h('td', { class: 'tasks' }, tasks.map((t) => badge(t.state, `task ${t.id} on ${t.worker_id}`)),
        h('span', { class: 'muted' }, ` ${running}/${tasks.length}`)),
      h('td', {}, Object.entries(perWorker).map(([w, n]) => h('div', {}, `${w} × ${n}`))),
      h('td', { class: 'num' }, fmt(rate('sluice_sink_record_read_total', { connector: name }), 1)),
      h('td', { class: 'num' }, fmt(lagOf({ connector: name }))),
      h('td', {}, (info && info.config && info.config['connector.class'] || '').split('.').pop()),
      h('td', {}, ['pause', 'resume', 'restart-failed'].map((a) => actionButton(a, name))));
  });
  const failures = [];
  for (const name of names) {
    const { status } = all[name];
    if (!status) continue;
    if (status.connector.state === 'FAILED') failures.push([name, 'connector', status.connector]);
    for (const t of status.tasks) if (t.state === 'FAILED') failures.push([name, `task ${t.id}`, t]);
  }
  show(
    h('div', { class: 'bar' }, h('h1', {}, `Connectors (${names.length})`)),
    names.length
      ? table(['name', 'state', 'tasks', 'tasks per worker', 'read/s', 'lag', 'class', ''], rows)
      : h('p', { class: 'muted' }, 'No connectors yet. ', h('a', { href: '#/new' }, 'Create one.')),
    h('p', { class: 'muted' }, 'read/s and lag come from this worker’s /metrics: its own tasks only.'),
    h('h2', {}, 'Recent failures'),
    failures.length
      ? failures.map(([name, what, s]) => h('div', { class: 'failure', 'data-failure': name },
        h('a', { href: `#/connector/${enc(name)}` }, name), ` ${what} on ${s.worker_id}: `,
        trace(`${name}/${what}`, s.trace || '(no trace)')))
      : h('p', { class: 'muted' }, 'None.'));
}

// ---------------------------------------------------------------------------------------------
// #/connector/NAME

async function connectorView(name) {
  const path = `connectors/${enc(name)}`;
  const [status, info, offsets] = await Promise.all([
    api('GET', `${path}/status`),
    api('GET', path),
    api('GET', `${path}/offsets`).catch((err) => ({ error: err.message })),
    scrapeMetrics(),
  ]);
  const config = info.config || {};
  const taskRows = status.tasks.map((t) => h('tr', { 'data-task': t.id },
    h('td', {}, t.id), h('td', {}, badge(t.state)), h('td', {}, t.worker_id),
    h('td', { class: 'num' }, fmt(rate('sluice_sink_record_read_total', { connector: name, task: String(t.id) }), 1)),
    h('td', { class: 'num' }, fmt(lagOf({ connector: name, task: String(t.id) }))),
    h('td', {}, trace(`${name}/task ${t.id}`, t.trace)),
    h('td', {}, restartTaskButton(name, t.id))));
  const offsetRows = (offsets.offsets || []).map((o) => {
    const topic = o.partition.kafka_topic;
    const partition = String(o.partition.kafka_partition);
    return h('tr', {},
      h('td', {}, topic), h('td', { class: 'num' }, partition),
      h('td', { class: 'num' }, fmt(o.offset.kafka_offset)),
      h('td', { class: 'num' }, fmt(lagOf({ connector: name, topic, partition }))));
  });
  const actions = ['pause', 'resume', 'restart', 'restart-failed', 'stop']
    .map((a) => actionButton(a, name))
    .concat(h('button', { 'data-action': 'edit', onclick: () => { location.hash = `#/edit/${enc(name)}`; } }, 'Edit'),
      actionButton('delete', name, () => { location.hash = '#/'; }));
  const dlqTopic = (config['errors.deadletterqueue.topic.name'] || '').trim();
  show(
    h('div', { class: 'bar' }, h('h1', {}, name), badge(status.connector.state),
      h('span', { class: 'muted' }, `${status.type} connector on ${status.connector.worker_id}`)),
    h('div', { class: 'bar' }, actions),
    status.connector.trace ? trace(`${name}/connector`, status.connector.trace) : '',
    h('h2', {}, 'Tasks'),
    table(['task', 'state', 'worker', 'read/s', 'lag', 'trace', ''], taskRows),
    h('h2', {}, 'Offsets and lag'),
    offsets.error ? h('p', { class: 'error' }, offsets.error)
      : offsetRows.length ? table(['topic', 'partition', 'committed offset', 'lag'], offsetRows)
        : h('p', { class: 'muted' }, 'No committed offsets yet.'),
    h('h2', {}, 'Dead letters', dlqTopic ? h('span', { class: 'muted' }, ` (newest ${DLQ_LIMIT} of ${dlqTopic}) `) : ''),
    dlqTopic
      ? [h('button', { 'data-action': 'reload-dlq', onclick: () => loadDeadLetters(name) }, 'Reload'),
        h('div', { id: 'dead-letters' }, deadLetterCache.get(name) || h('p', { class: 'muted' }, 'Reading…'))]
      : h('p', { class: 'muted' }, 'No dead letter queue: errors.deadletterqueue.topic.name is not set.'),
    h('h2', {}, 'Config'),
    table(['key', 'value'], Object.keys(config).sort().map((k) =>
      h('tr', { 'data-key': k }, h('td', {}, h('code', {}, k)), h('td', { class: 'value' }, config[k])))));
  // Reading the DLQ asks Kafka, so only on entering the page and on Reload, not every refresh.
  if (dlqTopic && !deadLetterCache.has(name)) loadDeadLetters(name);
}

const deadLetterCache = new Map();

async function loadDeadLetters(name) {
  let node;
  try {
    const letters = await api('GET', `sluice/connectors/${enc(name)}/dead-letters?limit=${DLQ_LIMIT}`);
    node = letters.length ? table(['time', 'partition/offset', 'key', 'value', 'headers'], letters.map(deadLetterRow))
      : h('p', { class: 'muted' }, 'No dead letters.');
  } catch (err) {
    node = h('p', { class: 'error' }, `Reading the dead letters failed: ${err.message}`);
  }
  deadLetterCache.set(name, node);
  const slot = document.getElementById('dead-letters');
  if (slot) slot.replaceChildren(node);
}

function deadLetterRow(d) {
  const headers = d.headers.map((hd) => {
    const context = hd.key.startsWith('__connect.errors.');
    const long = hd.key.endsWith('stacktrace');
    return [h('dt', { class: context ? 'dl-header context' : 'dl-header' }, hd.key),
      h('dd', {}, long ? trace(`${d.partition}/${d.offset}`, hd.value) : (hd.value ?? 'null'))];
  });
  return h('tr', { class: 'dead-letter' },
    h('td', {}, d.timestamp ? new Date(d.timestamp).toISOString().replace('T', ' ').slice(0, 19) : '–'),
    h('td', { class: 'num' }, `${d.partition}/${d.offset}`),
    h('td', { class: 'value' }, h('code', {}, d.key ?? 'null')),
    h('td', { class: 'value' }, h('code', {}, d.value ?? 'null'), d.truncated ? h('span', { class: 'muted' }, ' (cut)') : ''),
    h('td', {}, h('dl', { class: 'headers' }, headers)));
}

// ---------------------------------------------------------------------------------------------
// #/new and #/edit/NAME — the connector as JSON, validated while typing

const TEMPLATE = {
  name: 'my-connector',
  config: {
    'connector.class': 'ClickHouseSink',
    'tasks.max': '1',
    topics: 'events',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
  },
};

async function editorView(name) {
  const original = name ? await api('GET', `connectors/${enc(name)}/config`) : null;
  const start = name ? { name, config: original } : TEMPLATE;
  const text = h('textarea', { id: 'editor', spellcheck: 'false' });
  text.value = JSON.stringify(start, null, 2);
  const panel = h('div', { class: 'validation', id: 'validation' });
  const save = h('button', { class: 'primary', 'data-action': 'save' }, name ? 'Save changes' : 'Create');
  let timer = null;
  let generation = 0;
  const check = async () => {
    const mine = ++generation;
    const result = await validate(text.value);
    if (mine === generation) renderValidation(panel, text.value, result);
  };
  text.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(check, 300); });
  save.addEventListener('click', async () => {
    let parsed;
    try { parsed = readEditor(text.value); } catch (err) { flash(err.message, true); return; }
    try {
      if (name) {
        // Only what changed: keys shown as [hidden] keep their real values unless edited.
        const patch = {};
        for (const [k, v] of Object.entries(parsed.config)) if (original[k] !== v) patch[k] = v;
        for (const k of Object.keys(original)) if (!(k in parsed.config)) patch[k] = null;
        await api('PATCH', `connectors/${enc(name)}/config`, patch);
      } else {
        await api('POST', 'connectors', parsed);
      }
      flash(`${parsed.name} saved.`);
      location.hash = `#/connector/${enc(name || parsed.name)}`;
    } catch (err) {
      flash(`Saving failed: ${err.message}`, true);
    }
  });
  show(
    h('h1', {}, name ? `Edit ${name}` : 'New connector'),
    h('p', { class: 'muted' }, 'JSON with "name" and "config"; checked against the plugin while you type (PUT /connector-plugins/{class}/config/validate).'),
    h('div', { class: 'editor' }, h('div', {}, text, h('div', { class: 'bar' }, save,
      h('a', { href: name ? `#/connector/${enc(name)}` : '#/' }, 'Cancel'))), panel));
  check();
}

function readEditor(source) {
  const parsed = JSON.parse(source);
  if (!parsed || typeof parsed !== 'object' || typeof parsed.config !== 'object' || !parsed.config) {
    throw new Error('The editor needs an object with "name" and "config".');
  }
  // The API takes strings only; numbers and booleans are what people type for them.
  const config = {};
  for (const [k, v] of Object.entries(parsed.config)) config[k] = v === null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return { name: String(parsed.name || ''), config };
}

// → {syntax} | {errors: [[key, message]], count}
async function validate(source) {
  let parsed;
  try { parsed = readEditor(source); } catch (err) { return { syntax: err.message }; }
  const config = { ...parsed.config, name: parsed.name };
  const cls = config['connector.class'];
  if (!cls) return { errors: [['connector.class', 'Missing: the plugin to validate against.']], count: 1 };
  try {
    const answer = await api('PUT', `connector-plugins/${enc(cls)}/config/validate`, config);
    const errors = [];
    for (const c of answer.configs || []) {
      for (const e of (c.value && c.value.errors) || []) errors.push([c.value.name, e]);
    }
    return { errors, count: answer.error_count };
  } catch (err) {
    // An unknown plugin is a 404 or 400 for the request, but an error of this key for the user.
    return { errors: [['connector.class', err.message]], count: 1 };
  }
}

function renderValidation(panel, source, result) {
  if (result.syntax) {
    panel.replaceChildren(h('strong', { class: 'error' }, 'Not valid JSON'), h('p', { class: 'error' }, result.syntax));
    return;
  }
  const lines = source.split('\n');
  const lineOf = (key) => {
    const i = lines.findIndex((l) => l.includes(JSON.stringify(key) + ':') || l.includes(JSON.stringify(key) + ' :'));
    return i < 0 ? '' : ` (line ${i + 1})`;
  };
  const byKey = new Map();
  for (const [k, m] of result.errors) byKey.set(k, [...(byKey.get(k) || []), m]);
  panel.replaceChildren(
    result.errors.length
      ? h('strong', { class: 'error' }, `${result.errors.length} error${result.errors.length > 1 ? 's' : ''}`)
      : h('strong', { class: 'ok' }, 'Valid'),
    h('ul', {}, [...byKey].map(([k, messages]) => h('li', { 'data-key': k },
      h('code', {}, k), h('span', { class: 'muted' }, lineOf(k)),
      messages.map((m) => h('div', { class: 'error' }, m))))));
}

// ---------------------------------------------------------------------------------------------
// #/cluster — members, leader, which tasks run where

async function clusterView() {
  const [cluster, all] = await Promise.all([
    api('GET', 'sluice/cluster').catch(() => null),
    api('GET', 'connectors?expand=status'),
  ]);
  const where = new Map();
  const place = (worker, item) => where.set(worker, [...(where.get(worker) || []), item]);
  for (const [name, { status }] of Object.entries(all || {})) {
    if (!status) continue;
    place(status.connector.worker_id, h('span', {}, badge(status.connector.state), ` ${name} `));
    for (const t of status.tasks) place(t.worker_id, h('span', {}, badge(t.state), ` ${name}-${t.id} `));
  }
  // Without /sluice/cluster (another Kafka Connect runtime) the members are the workers that
  // statuses name; a Sluice standalone worker answers as a cluster of one.
  const members = cluster ? cluster.members : [...where.keys()].sort();
  const rows = members.map((m) => h('tr', { 'data-member': m },
    h('td', {}, m, cluster && m === cluster.worker_id ? h('span', { class: 'muted' }, ' (this worker)') : ''),
    h('td', {}, cluster && m === cluster.worker_id && cluster.leader ? 'leader' : ''),
    h('td', { class: 'tasks' }, where.get(m) || h('span', { class: 'muted' }, 'none'))));
  const elsewhere = [...where.keys()].filter((w) => !members.includes(w));
  show(
    h('h1', {}, 'Cluster'),
    cluster
      ? h('p', {}, `This worker: ${cluster.worker_id}; `,
        cluster.leader ? 'it leads the group' : 'another member leads the group', '; ',
        cluster.joined ? 'in the group.' : h('strong', { class: 'error' }, 'not in the group now (cut off from Kafka?).'))
      : h('p', { class: 'muted' }, 'This worker does not serve /sluice/cluster; members are read off task statuses.'),
    table(['member', 'role', 'connectors and tasks'], rows),
    elsewhere.length ? [h('h2', {}, 'On workers not in the member list'),
      table(['worker', '', 'connectors and tasks'], elsewhere.map((w) => h('tr', {}, h('td', {}, w || '(none)'), h('td', {}), h('td', { class: 'tasks' }, where.get(w)))))] : '');
}

// ---------------------------------------------------------------------------------------------
// routing and refresh

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const arg = parts[1] ? decodeURIComponent(parts.slice(1).join('/')) : null;
  switch (parts[0]) {
    case 'connector': return { nav: 'connectors', render: () => connectorView(arg), live: true };
    case 'cluster': return { nav: 'cluster', render: clusterView, live: true };
    case 'new': return { nav: 'new', render: () => editorView(null), live: false };
    case 'edit': return { nav: 'connectors', render: () => editorView(arg), live: false };
    default: return { nav: 'connectors', render: connectorsView, live: true };
  }
}

let refreshTimer = null;

async function refresh() {
  clearTimeout(refreshTimer);
  const r = route();
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.nav === r.nav);
  const hash = location.hash;
  const t0 = performance.now();
  try {
    await r.render();
    // For the browser test, which prints how long pages take (the API calls and the drawing).
    document.body.dataset.renderMs = Math.round(performance.now() - t0);
    document.body.dataset.loaded = hash;
  } catch (err) {
    show(h('p', { class: 'error' }, `Could not load this page: ${err.message}`), h('a', { href: '#/' }, 'Back to the connectors'));
  }
  // The editor is not redrawn under the user's hands; the other pages follow the cluster.
  // The first refresh comes soon, so throughput (two scrapes) shows without a long wait.
  if (r.live && hash === location.hash) refreshTimer = setTimeout(refresh, metrics.before ? REFRESH_MS : 1500);
}

window.addEventListener('hashchange', () => {
  deadLetterCache.clear();
  refresh();
});

api('GET', '').then((info) => {
  document.getElementById('worker').textContent = `Sluice ${info.version}${info.kafka_cluster_id ? ` · Kafka cluster ${info.kafka_cluster_id}` : ''}`;
}).catch(() => {});
refresh();
