// The dashboard's page: a snapshot and then every change from /api/stream (server-sent
// events), history from /api/history, commands to /api/command with the session's CSRF
// token. Values are always set as text, never as HTML.
"use strict";

const packs = new Map();        // name -> {state, cells, limits, online, events, results}
let current = decodeURIComponent(location.hash.slice(1)) || null;
let session = {user: null, role: null, csrf: null, commands: false};
let hours = 1;
let drawQueued = false;
let historyTimer = null;
let historyOf = null;           // the pack the charts show

const $ = (id) => document.getElementById(id);
const fmt = (v, digits, unit) => v === null || v === undefined ? "–"
  : `${Number(v).toFixed(digits)}${unit ? " " + unit : ""}`;
const when = (t) => new Date(t * 1000).toLocaleString();

function text(id, value) { $(id).textContent = value; }

function element(tag, content, className) {
  const e = document.createElement(tag);
  if (content !== undefined) e.textContent = content;
  if (className) e.className = className;
  return e;
}

async function api(path, options = {}) {
  const response = await fetch(path, {credentials: "same-origin", ...options});
  const body = await response.json().catch(() => ({}));
  return {status: response.status, body};
}

// --- session ---------------------------------------------------------------------------

async function loadSession() {
  const {body} = await api("/api/session");
  session = body;
  $("login").hidden = !body.logins || !!body.user;
  $("who").hidden = !body.user;
  text("who-name", body.user ? `${body.user} (${body.role})` : "");
  const blind = body.login_to_view && !body.user;
  $("need-login").hidden = !blind;
  $("main").classList.toggle("blind", blind);
  $("commands").hidden = !(body.role === "operator" && body.commands) || !current;
  if (!blind) connect();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const {status, body} = await api("/api/login", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({user: $("login-user").value, password: $("login-password").value}),
  });
  text("login-error", status === 200 ? "" : body.error || `refused (${status})`);
  $("login-password").value = "";
  if (status === 200) loadSession();
});

$("logout").addEventListener("click", async () => {
  await api("/api/logout", {method: "POST", headers: {"X-CSRF-Token": session.csrf || ""}});
  loadSession();
});

// --- the live stream -------------------------------------------------------------------

let source = null;

function connect() {
  if (source) return;
  source = new EventSource("/api/stream");
  source.addEventListener("open", () => { text("link", "live"); $("link").className = "badge up"; });
  source.addEventListener("error", () => { text("link", "reconnecting"); $("link").className = "badge down"; });
  source.addEventListener("snapshot", (e) => {
    packs.clear();
    for (const p of JSON.parse(e.data)) packs.set(p.pack, p);
    queueDraw();
  });
  source.addEventListener("update", (e) => {
    const {pack, kind, data} = JSON.parse(e.data);
    if (!packs.has(pack)) packs.set(pack, {pack, events: [], results: []});
    const p = packs.get(pack);
    if (kind === "events") {
      p.events.push(data);
      if (p.events.length > 200) p.events.shift();
    } else if (kind === "result") {
      p.results.push(data);
    } else {
      p[kind] = data;
    }
    queueDraw();
  });
}

function queueDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; draw(); });
}

// --- drawing ---------------------------------------------------------------------------

function draw() {
  const names = [...packs.keys()].sort();
  if (!current || !packs.has(current)) current = names[0] || null;
  drawNav(names);
  const p = current ? packs.get(current) : null;
  $("no-packs").hidden = !!p;
  for (const id of ["overview", "cells", "history", "events"]) $(id).hidden = !p;
  $("commands").hidden = !p || !(session.role === "operator" && session.commands);
  if (!p) return;
  drawOverview(p);
  drawCells(p);
  drawEvents(p);
  if (historyOf !== current) loadHistory();  // once its section is shown (charts need a size)
}

function drawNav(names) {
  const nav = $("packs");
  if (nav.dataset.names === names.join("\n") && nav.dataset.current === current) return;
  nav.replaceChildren(...names.map((name) => {
    const b = element("button", name, name === current ? "active" : "");
    b.addEventListener("click", () => { current = name; location.hash = name; draw(); });
    return b;
  }));
  nav.dataset.names = names.join("\n");
  nav.dataset.current = current;
}

function entries(id, names, className) {
  $(id).replaceChildren(...(names || []).map((n) => element("li", n, className)));
}

function drawOverview(p) {
  const s = p.state || {}, l = p.limits || {};
  text("state", s.state || "–");
  $("state").className = `big state-${s.state}`;
  const online = p.online ? p.online.online : null;
  text("online", online === null ? "" : online ? "master online" : "master offline");
  const c = s.contactors || {};
  text("contactors", ["main_plus", "main_minus", "precharge"]
    .map((k) => `${k.replace("_", " ")}: ${c[k] ? "closed" : "open"}`).join(", "));
  text("balancing", s.balancing === undefined ? "" : `balancing ${s.balancing ? "allowed" : "off"}`);
  text("soc", fmt(s.soc_pct, 1, "%"));
  text("soc-range", s.soc_min_pct === undefined ? "" :
    `cells ${fmt(s.soc_min_pct, 1)} to ${fmt(s.soc_max_pct, 1)} %, σ ${fmt(s.soc_sigma_pct, 1)}`);
  text("soe", `SOE ${fmt(s.soe_kwh, 2, "kWh")}`);
  text("soh", `SOH ${fmt(s.soh_pct, 1, "%")}`);
  text("voltage", fmt(s.voltage_v, 1, "V"));
  text("current", fmt(s.current_a, 1, "A"));
  text("power", fmt(s.power_kw, 2, "kW"));
  text("limit-charge", `charge ${fmt(l.charge_a, 1, "A")} (${l.charge_limiter || "–"})`);
  text("limit-discharge", `discharge ${fmt(l.discharge_a, 1, "A")} (${l.discharge_limiter || "–"})`);
  text("limit-voltage", l.voltage_min_v === undefined ? "" :
    `${fmt(l.voltage_min_v, 1)} to ${fmt(l.voltage_max_v, 1)} V`);
  entries("faults", s.faults, "fault");
  entries("warnings", s.warnings, "warning");
}

function matrix(values, rows, columns) {
  const z = [];
  for (let m = 0; m < rows; m++) z.push((values || []).slice(m * columns, (m + 1) * columns));
  return z;
}

function extreme(values, columns, pick) {
  let best = null, at = -1;
  (values || []).forEach((v, i) => {
    if (v !== null && (best === null || pick(v, best))) { best = v; at = i; }
  });
  return at < 0 ? null : {value: best, module: Math.floor(at / columns), index: at % columns};
}

function drawCells(p) {
  const c = p.cells;
  if (!c) return;
  const metric = $("metric").value;
  const n = c.cells_per_module, s = c.sensors_per_module;
  let z, columns = n, title;
  if (metric === "voltage") { z = matrix(c.voltages_mv, c.modules, n); title = "mV"; }
  else if (metric === "temperature") { z = matrix(c.temperatures_degc, c.modules, s); columns = s; title = "°C"; }
  else if (metric === "soc") { z = matrix(c.soc_pct, c.modules, n); title = "%"; }
  else {
    z = (c.balancing_masks || []).map((mask) => [...Array(n).keys()].map((i) => (mask >> i) & 1));
    title = "bleeding";
  }
  const label = metric === "temperature" ? "sensor" : "cell";
  const trace = {
    type: "heatmap", z, colorscale: metric === "balancing" ? "Greys" : "Viridis",
    x: [...Array(columns).keys()].map((i) => `${label} ${i}`),
    y: [...Array(c.modules).keys()].map((m) => `module ${m}`),
    colorbar: {title: {text: title}}, hoverongaps: false,
  };
  Plotly.react("heatmap", [trace], {margin: {t: 10, r: 10, b: 40, l: 80},
    yaxis: {autorange: "reversed"}}, {displayModeBar: false, responsive: true});
  const hi = extreme(c.voltages_mv, n, (a, b) => a > b), lo = extreme(c.voltages_mv, n, (a, b) => a < b);
  const th = extreme(c.temperatures_degc, s, (a, b) => a > b);
  text("extremes", [
    hi && `highest cell ${hi.value} mV at module ${hi.module} cell ${hi.index}`,
    lo && `lowest ${lo.value} mV at module ${lo.module} cell ${lo.index}`,
    th && `hottest ${th.value} °C at module ${th.module} sensor ${th.index}`,
  ].filter(Boolean).join(" · "));
  drawModules(c);
}

function drawModules(c) {
  const n = c.cells_per_module, s = c.sensors_per_module;
  const rows = [];
  for (let m = 0; m < c.modules; m++) {
    const v = (c.voltages_mv || []).slice(m * n, (m + 1) * n).filter((x) => x !== null);
    const t = (c.temperatures_degc || []).slice(m * s, (m + 1) * s).filter((x) => x !== null);
    const mask = (c.balancing_masks || [])[m] || 0;
    const bleeding = [...Array(n).keys()].filter((i) => (mask >> i) & 1).length;
    const tr = document.createElement("tr");
    tr.dataset.module = m;
    const min = v.length ? Math.min(...v) : null, max = v.length ? Math.max(...v) : null;
    for (const cell of [`module ${m}`, fmt(min, 0), fmt(max, 0),
      min === null ? "–" : fmt(max - min, 0),
      fmt(t.length ? Math.min(...t) : null, 1), fmt(t.length ? Math.max(...t) : null, 1),
      String(bleeding)]) tr.append(element("td", cell));
    rows.push(tr);
  }
  $("modules").tBodies[0].replaceChildren(...rows);
}

const older = new Map();        // pack -> events read from the history on request

function drawEvents(p) {
  const body = $("event-table").tBodies[0];
  const byId = new Map([...(older.get(p.pack) || []), ...(p.events || [])].map((e) => [e.id, e]));
  const shown = [...byId.values()].sort((a, b) => b.id - a.id).slice(0, 1000);
  const key = shown.map((e) => e.id).join(",");
  if (body.dataset.key === key && body.dataset.pack === p.pack) return;
  body.dataset.key = key;
  body.dataset.pack = p.pack;
  body.replaceChildren(...shown.map((e) => {
    const tr = element("tr", undefined, `sev-${e.severity || e.kind}`);
    tr.dataset.id = e.id;
    tr.dataset.entry = e.entry || "";
    tr.append(element("td", when(e.t)), element("td", e.severity || e.kind));
    const cell = element("td");
    if (e.freeze) {
      const details = element("details");
      details.append(element("summary", e.text), element("pre", JSON.stringify(e.freeze, null, 1)));
      cell.append(details);
    } else {
      cell.textContent = e.text;
    }
    tr.append(cell);
    return tr;
  }));
}

$("metric").addEventListener("change", queueDraw);

$("older-events").addEventListener("click", async () => {
  const p = packs.get(current);
  if (!p) return;
  const known = [...(older.get(current) || []), ...(p.events || [])].map((e) => e.id);
  const before = known.length ? Math.min(...known) : "";
  const {status, body} = await api(`/api/events?pack=${encodeURIComponent(current)}&before=${before}`);
  if (status !== 200) return;
  older.set(current, [...(older.get(current) || []), ...body]);
  text("older-note", body.length ? "" : "no older events in the history");
  drawEvents(p);
});

// --- history ---------------------------------------------------------------------------

async function loadHistory() {
  clearTimeout(historyTimer);
  historyTimer = setTimeout(loadHistory, 30000);
  if (!current || $("history").hidden) return;
  historyOf = current;
  const until = Date.now() / 1000, since = until - hours * 3600;
  const {status, body} = await api(`/api/history?pack=${encodeURIComponent(current)}` +
    `&since=${since}&until=${until}`);
  if (status !== 200) return;
  const s = body.series;
  const time = (table) => (s[`${table}.t`] || []).map((t) => new Date(t * 1000));
  const line = (table, name, label, extra = {}) =>
    ({x: time(table), y: s[`${table}.${name}`], name: label, type: "scatter", mode: "lines", ...extra});
  const layout = (title, extra = {}) => ({title: {text: title, font: {size: 13}},
    margin: {t: 30, r: 50, b: 30, l: 50}, legend: {orientation: "h"}, ...extra});
  const options = {displayModeBar: false, responsive: true};
  Plotly.react("chart-pack", [line("state", "voltage_v", "voltage (V)"),
    line("state", "current_a", "current (A)", {yaxis: "y2"})],
    layout("pack", {yaxis2: {overlaying: "y", side: "right"}}), options);
  Plotly.react("chart-spread", [line("cells", "cell_min_mv", "min cell (mV)"),
    line("cells", "cell_max_mv", "max cell (mV)"),
    line("cells", "cell_spread_mv", "spread (mV)", {yaxis: "y2"})],
    layout("cell voltages", {yaxis2: {overlaying: "y", side: "right"}}), options);
  Plotly.react("chart-temperature", [line("cells", "temperature_min_degc", "min (°C)"),
    line("cells", "temperature_max_degc", "max (°C)")], layout("temperatures"), options);
  Plotly.react("chart-soc", [line("state", "soc_pct", "SOC (%)"),
    line("state", "soc_min_pct", "lowest cell"), line("state", "soc_max_pct", "highest cell")],
    layout("SOC"), options);
}

for (const b of document.querySelectorAll(".ranges button")) {
  b.addEventListener("click", () => {
    hours = Number(b.dataset.hours);
    for (const o of document.querySelectorAll(".ranges button")) o.classList.toggle("active", o === b);
    loadHistory();
  });
}

// --- commands --------------------------------------------------------------------------

function commandBody(button) {
  const name = button.dataset.command;
  if (name === "balancing") return {command: name, enabled: button.dataset.enabled === "true"};
  if (name === "charge_target") return {command: name, soc_pct: Number($("charge-target").value)};
  if (name === "state") return {command: name, request: $("state-request").value};
  if (name === "set_soc") return {command: name, soc_pct: Number($("set-soc").value)};
  return {command: name};
}

for (const button of document.querySelectorAll("#commands button[data-command]")) {
  button.addEventListener("click", async () => {
    const body = {pack: current, ...commandBody(button)};
    const {status, body: answer} = await api("/api/command", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": session.csrf || ""},
      body: JSON.stringify(body),
    });
    const ok = status === 200 && answer.accepted;
    const what = `${new Date().toLocaleTimeString()} ${body.command} → ` +
      (ok ? "accepted" : status === 202 ? "sent, no result yet" :
        `refused: ${answer.reason || answer.error || status}`);
    const li = element("li", what, ok ? "accepted" : "refused");
    li.dataset.command = body.command;
    $("results").prepend(li);
  });
}

loadSession();
