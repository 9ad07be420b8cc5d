// The stepkit viewer: a page of plain DOM code over /_stepkit/ui/api/ (no build step).
// Graphs are laid out by dagre (vendor/dagre.min.js) and drawn here as SVG.
"use strict";

const API = "api/";
const TOKEN = document.querySelector('meta[name="stepkit-csrf"]').content;
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]);
const SVG_NS = "http://www.w3.org/2000/svg";
const EVENT_PAGE = 500;
let timer = null;     // the pending poll of the page shown
let generation = 0;   // bumped on every navigation: answers for an older page are dropped

// -- small helpers --------------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c.nodeType ? c : String(c));
  return el;
}
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}
async function get(name, params) {
  const res = await fetch(API + name + "?" + new URLSearchParams(params || {}), {cache: "no-store"});
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}
async function act(name, arn) {
  const res = await fetch(API + name, {method: "POST", body: JSON.stringify({arn}),
    headers: {"Content-Type": "application/json", "X-Stepkit-Csrf": TOKEN}});
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || body.__type || res.statusText);
  return body;
}
const badge = (status) => h("span", {class: "badge s-" + status, "data-status": status, text: status});
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
function ms(n) {
  if (n === null || n === undefined) return "";
  return n < 1000 ? n + " ms" : n < 60000 ? (n / 1000).toFixed(2) + " s" : (n / 60000).toFixed(1) + " min";
}
function pretty(text) {
  if (text === null || text === undefined) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return String(text); }
}
const link = (hash, text, cls) => h("a", {href: hash, class: cls, text});
const short = (arn) => arn.split(":").slice(-1)[0];
function setMain(...children) { document.getElementById("main").replaceChildren(...children.flat().filter((c) => c)); }
function crumbs(...items) { document.getElementById("crumbs").replaceChildren(...items.filter((i) => i)); }
function live(text) { document.getElementById("live").textContent = text; }
function poll(fn, delay) {
  // A failed refresh (the endpoint restarting, say) is shown and tried again later.
  clearTimeout(timer);
  timer = setTimeout(() => Promise.resolve(fn()).catch((err) => { live("refresh failed: " + err.message); poll(fn, delay * 2); }), delay);
}

// -- pages ------------------------------------------------------------------------------------------
async function machinesPage(gen) {
  crumbs(h("span", {text: "State machines"}));
  const data = await get("machines");
  if (gen !== generation) return;
  const rows = data.stateMachines.map((m) => h("tr", {"data-machine": m.name},
    h("td", {}, link("#/machine/" + encodeURIComponent(m.stateMachineArn), m.name)),
    h("td", {text: m.type}), h("td", {text: when(m.creationDate)}),
    h("td", {class: "counts"}, Object.entries(m.counts).filter(([, n]) => n).map(([k, n]) => h("span", {}, badge(k), " " + n)))));
  setMain(h("h2", {text: "State machines"}),
    rows.length ? h("table", {}, h("tr", {}, ["Name", "Type", "Created", "Executions"].map((t) => h("th", {text: t}))), rows)
      : h("p", {class: "muted", text: "No state machines on this endpoint yet."}));
  live("updated " + new Date().toLocaleTimeString());
  poll(() => gen === generation && machinesPage(gen), 3000);
}

const filters = {status: "", name: "", since: ""};
async function machinePage(gen, arn) {
  crumbs(link("#/", "State machines"), h("span", {text: short(arn)}));
  if (!document.getElementById("executions")) {
    const status = h("select", {id: "status-filter", onchange: (e) => { filters.status = e.target.value; machinePage(gen, arn); }},
      ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].map((v) => h("option", {value: v, text: v || "any status"})));
    status.value = filters.status;
    const name = h("input", {id: "name-filter", placeholder: "name contains", value: filters.name,
      oninput: (e) => { filters.name = e.target.value; machinePage(gen, arn); }});
    const since = h("select", {id: "since-filter", onchange: (e) => { filters.since = e.target.value; machinePage(gen, arn); }},
      [["", "any time"], ["900", "last 15 minutes"], ["3600", "last hour"], ["86400", "last day"], ["604800", "last week"]]
        .map(([v, t]) => h("option", {value: v, text: t})));
    since.value = filters.since;
    setMain(h("h2", {text: short(arn)}), h("div", {class: "filters"}, status, name, since), h("div", {id: "executions"}));
  }
  const since = filters.since ? String(Date.now() / 1000 - Number(filters.since)) : "";
  const data = await get("executions", {machine: arn, status: filters.status, name: filters.name, since});
  if (gen !== generation) return;
  const rows = data.executions.map((e) => h("tr", {"data-execution": e.name},
    h("td", {}, link("#/execution/" + encodeURIComponent(e.executionArn), e.name)), h("td", {}, badge(e.status)),
    h("td", {text: when(e.startDate)}), h("td", {class: "num", text: e.stopDate ? ms(Math.round((e.stopDate - e.startDate) * 1000)) : ""})));
  document.getElementById("executions").replaceChildren(rows.length
    ? h("table", {}, h("tr", {}, ["Name", "Status", "Started", "Duration"].map((t) => h("th", {text: t}))), rows)
    : h("p", {class: "muted", text: "No executions match."}));
  live("updated " + new Date().toLocaleTimeString());
  poll(() => gen === generation && machinePage(gen, arn), 2000);
}

async function executionPage(gen, arn) {
  // A poll asks only for the events after those the page holds (and no graph: it has it).
  let view = document.getElementById("execution");
  const held = view && view.dataset.arn === arn && view.events ? view.events : null;
  const after = held && held.length ? held[held.length - 1].id : null;
  let data = await get("execution", after === null ? {arn} : {arn, after});
  if (gen !== generation) return;
  if (after !== null && data.eventCount !== held.length + data.events.length) {
    data = await get("execution", {arn});  // the history is not the one held: read it whole
    if (gen !== generation) return;
    view.events = null;
    document.getElementById("events").replaceChildren();
  }
  const e = data.execution;
  const machineArn = e.mapRunArn ? null : e.stateMachineArn;
  crumbs(link("#/", "State machines"), machineArn ? link("#/machine/" + encodeURIComponent(machineArn), short(machineArn)) : null,
    e.mapRunArn ? link("#/maprun/" + encodeURIComponent(e.mapRunArn), "Map Run") : null, h("span", {text: e.name}));
  if (!view || view.dataset.arn !== arn) {
    view = h("div", {id: "execution", "data-arn": arn},
      h("div", {id: "summary"}), h("div", {class: "layout"}, h("div", {id: "graph"}), h("div", {id: "detail"},
        h("p", {class: "muted", text: "Click a state to see its input, output and error."}))),
      h("div", {id: "candidates"}), h("h3", {text: "Timeline"}), h("div", {id: "gantt"}), h("div", {id: "mapruns"}),
      h("h3", {text: "Events"}), h("div", {id: "events"}));
    setMain(view);
    if (data.graph) drawGraph(document.getElementById("graph"), data.graph, (name) => showState(view, name));
    else document.getElementById("graph").append(h("p", {class: "muted", text: "The definition could not be drawn."}));
    view.graph = data.graph;
  }
  const fresh = !view.events || data.events.length > 0;
  view.events = view.events ? view.events.concat(data.events) : data.events;
  view.states = Object.fromEntries(data.states.map((st) => [st.name, st]));
  renderSummary(e);
  if (view.graph) colourGraph(view.states, view.graph, data.mapRuns.length > 0);
  renderGantt(data.states, e, (name) => showState(view, name));
  renderMapRuns(data.mapRuns);
  renderCandidates(selectionReport(data.states));
  if (fresh) renderEvents(view.events);
  if (view.selected) showState(view, view.selected);
  live((e.status === "RUNNING" ? "live · " : "") + "updated " + new Date().toLocaleTimeString());
  if (!TERMINAL.has(e.status)) poll(() => gen === generation && executionPage(gen, arn), 1000);
}

function renderSummary(e) {
  const took = e.stopDate ? ms(Math.round((e.stopDate - e.startDate) * 1000)) : "";
  const actions = [];
  if (e.status === "RUNNING") actions.push(h("button", {class: "action", id: "stop", onclick: () => runAction("stop", e.executionArn)}, "Stop"));
  if (e.redriveStatus === "REDRIVABLE") actions.push(h("button", {class: "action", id: "redrive", onclick: () => runAction("redrive", e.executionArn)}, "Redrive"));
  document.getElementById("summary").replaceChildren(
    h("h2", {}, e.name + " ", badge(e.status), " ", ...actions),
    h("dl", {}, h("dt", {text: "Started"}), h("dd", {text: when(e.startDate)}), h("dt", {text: "Duration"}), h("dd", {text: took}),
      e.error ? [h("dt", {text: "Error"}), h("dd", {class: "error", text: e.error + (e.cause ? ": " + e.cause : "")})] : [],
      e.redriveCount ? [h("dt", {text: "Redrives"}), h("dd", {text: e.redriveCount})] : []));
}

async function runAction(name, arn) {
  try { await act(name, arn); } catch (err) { alert(name + " failed: " + err.message); }
  route();
}

function showState(view, name) {
  view.selected = name;
  document.querySelectorAll("g.node.selected").forEach((n) => n.classList.remove("selected"));
  const node = document.querySelector(`g.node[data-state="${CSS.escape(name)}"]`);
  if (node) node.classList.add("selected");
  const st = view.states[name];
  const detail = document.getElementById("detail");
  if (!st) { detail.replaceChildren(h("h3", {text: name}), h("p", {class: "muted", text: "Not run (yet)."})); return; }
  detail.replaceChildren(h("h3", {}, name + " ", badge(st.status)),
    h("dl", {}, h("dt", {text: "Type"}), h("dd", {text: st.type}), h("dt", {text: "Duration"}), h("dd", {text: ms(st.durationMs)}),
      h("dt", {text: "Entered"}), h("dd", {text: st.entries + "×"}), h("dt", {text: "Retries"}), h("dd", {text: st.retries})),
    st.error ? [h("h4", {text: "Error"}), h("pre", {id: "state-error", class: "error", text: st.error})] : [],
    st.cause ? [h("h4", {text: "Cause"}), h("pre", {id: "state-cause", text: pretty(st.cause)})] : [],
    h("h4", {text: "Input"}), h("pre", {id: "state-input", text: pretty(st.input)}),
    h("h4", {text: "Output"}), h("pre", {id: "state-output", text: pretty(st.output)}),
    st.type === "Task" ? h("div", {id: "task-logs"}) : null);
  if (st.type === "Task") showTaskLogs(view, name, st);
}

function invocationOutcome(inv) {
  // The REPORT line's Status names a timeout or a crash; a function's own error is its
  // runtime's "[ERROR]" line (Lambda's REPORT does not say it); no REPORT yet: running.
  const r = inv.report;
  if (r.status) return r.status === "timeout" ? "TIMED_OUT" : "FAILED";
  if (r.durationMs === undefined) return "RUNNING";
  return inv.lines.some((line) => line.startsWith("[ERROR]")) ? "FAILED" : "SUCCEEDED";
}

async function showTaskLogs(view, name, st) {
  // Fetched again only when the state changed since (a poll of a running execution re-renders it).
  const key = [name, st.status, st.attempts, st.exits].join("|");
  const box = document.getElementById("task-logs");
  if (view.logs && view.logs.key === key) { box.replaceChildren(...view.logs.nodes); return; }
  const data = await get("task-logs", {arn: view.dataset.arn, state: name}).catch((err) => ({error: err.message}));
  if (view.selected !== name || !document.getElementById("task-logs")) return;
  const nodes = [h("h4", {text: "Lambda log lines"})];
  if (data.error) nodes.push(h("p", {class: "error", text: data.error}));
  else if (!data.calls) nodes.push(h("p", {class: "muted", text: "This state invoked no Lambda function."}));
  else {
    for (const inv of data.invocations) {
      const r = inv.report;
      const outcome = invocationOutcome(inv);
      nodes.push(h("div", {class: "task-invocation", "data-request": inv.requestId},
        h("p", {}, badge(outcome), " ", h("span", {class: "mono", text: inv.function + " · " + inv.requestId}),
          r.durationMs !== undefined ? " · " + r.durationMs.toFixed(2) + " ms" : ""),
        h("pre", {class: "log", text: inv.lines.join("\n")})));
    }
    const notes = [];
    if (data.invocations.length < data.calls - data.unrecorded - data.unlogged) notes.push(`the last ${data.invocations.length} of ${data.calls} invocations shown`);
    if (data.unlogged) notes.push(`${data.unlogged} not logged yet`);
    if (data.unrecorded) notes.push(`${data.unrecorded} made before this endpoint started (or on another endpoint): find them on the function's page`);
    if (notes.length) nodes.push(h("p", {class: "muted", id: "task-logs-note", text: notes.join("; ") + "."}));
  }
  view.logs = {key, nodes};
  document.getElementById("task-logs").replaceChildren(...nodes);
}

function renderGantt(states, e, onPick) {
  const start = e.startDate;
  const now = e.status === "RUNNING" ? Date.now() / 1000 : 0;
  const end = Math.max(e.stopDate || 0, now, start + 0.001, ...states.map((st) => st.exited || st.entered || 0));
  const span = end - start;
  document.getElementById("gantt").replaceChildren(...states.filter((st) => st.entered).map((st) => {
    const left = ((st.entered - start) / span) * 100;
    const width = (((st.exited || end) - st.entered) / span) * 100;
    return h("div", {class: "gantt-row", "data-state": st.name},
      h("div", {class: "gantt-name", text: st.name, onclick: () => onPick(st.name)}),
      h("div", {class: "gantt-track"}, h("div", {class: "gantt-bar bar-" + st.status, style: `left:${left}%;width:${width}%`,
        title: `${st.name}: ${ms(st.durationMs)}`})),
      h("div", {class: "num muted", text: ms(st.durationMs)}));
  }));
}

function selectionReport(states) {
  // The ML pipeline's model selection (select_model's result, passed on by its Report state):
  // an output with a ranking of candidates by validation score.
  for (const st of [...states].reverse()) {
    if (!st.output || !st.output.includes('"ranking"')) continue;
    try {
      const out = JSON.parse(st.output);
      for (const report of [out, out.selection, out.report]) {
        if (report && Array.isArray(report.ranking) && report.ranking.length) return report;
      }
    } catch (e) { /* not JSON: not a report */ }
  }
  return null;
}

function renderCandidates(report) {
  const box = document.getElementById("candidates");
  if (!report) { box.replaceChildren(); return; }
  const metric = report.metric || "score";
  const best = report.best || {};
  const bestTest = best.test && typeof best.test[metric] === "number" ? best.test[metric] : null;
  const champion = report.champion && typeof report.champion.test_score === "number" ? report.champion : null;
  const scores = report.ranking.map((c) => c.validation_score).concat([bestTest, champion && champion.test_score]).filter((v) => typeof v === "number");
  const top = Math.max(...scores, 1e-9) * 1.05;
  const rowH = 22, left = 220, width = 760, chartW = width - left - 60;
  const rows = report.ranking.length + (bestTest !== null ? 1 : 0);
  const svg = s("svg", {id: "candidate-chart", width, height: rows * rowH + 40, viewBox: `0 0 ${width} ${rows * rowH + 40}`});
  const bar = (y, value, label, cls) => {
    const w = Math.max(1, (value / top) * chartW);
    svg.append(s("text", {x: left - 8, y: y + 14, "text-anchor": "end"}, document.createTextNode(label)),
      s("rect", {x: left, y: y + 3, width: w, height: rowH - 6, class: cls, rx: 2}),
      s("text", {x: left + w + 6, y: y + 14}, document.createTextNode(value.toFixed(4))));
  };
  report.ranking.forEach((c, i) => {
    const isBest = c.candidate_id === best.candidate_id;
    const g = s("g", {class: "candidate", "data-candidate": c.candidate_id, "data-best": isBest ? "true" : "false"});
    svg.append(g);
    if (typeof c.validation_score === "number") bar(i * rowH, c.validation_score, `${isBest ? "★ " : ""}${c.candidate_id} (${c.family || "?"})`, isBest ? "bar-best" : "bar-validation");
  });
  if (bestTest !== null) bar(report.ranking.length * rowH, bestTest, `★ ${best.candidate_id}: test`, "bar-test");
  if (champion) {
    const x = left + (champion.test_score / top) * chartW;
    svg.append(s("line", {x1: x, x2: x, y1: 0, y2: rows * rowH + 6, class: "champion-line", id: "champion-line"}),
      s("text", {x, y: rows * rowH + 22, "text-anchor": "middle", class: "champion-label"},
        document.createTextNode(`champion v${champion.version} (test ${champion.test_score.toFixed(4)})`)));
  }
  box.replaceChildren(h("h3", {text: `Candidates by validation ${metric}`}), svg,
    h("p", {class: "muted", text: "★ the best candidate; its test score below; the line is the champion's score on the same test rows."}));
}

function renderMapRuns(mapRuns) {
  const box = document.getElementById("mapruns");
  if (!mapRuns.length) { box.replaceChildren(); return; }
  box.replaceChildren(h("h3", {text: "Map Runs"}), h("table", {},
    h("tr", {}, ["Map Run", "Status", "Items", "Succeeded", "Failed", "Running"].map((t) => h("th", {text: t}))),
    mapRuns.map((m) => h("tr", {}, h("td", {}, link("#/maprun/" + encodeURIComponent(m.mapRunArn), short(m.mapRunArn), "maprun-link")),
      h("td", {}, badge(m.status)), h("td", {class: "num", text: m.itemCounts.total}), h("td", {class: "num", text: m.itemCounts.succeeded}),
      h("td", {class: "num", text: m.itemCounts.failed}), h("td", {class: "num", text: m.itemCounts.running})))));
}

function eventDetails(details) {
  // Built when opened: a 10,000-event history would otherwise format every payload up front.
  const box = h("details", {}, h("summary", {text: details.name || details.error || "details"}));
  box.addEventListener("toggle", () => {
    if (box.open && box.children.length === 1) box.append(h("pre", {text: JSON.stringify(details, null, 2)}));
  });
  return box;
}

function renderEvents(events) {
  // Rows are only added: a poll of a running execution appends its new events (up to the rows
  // shown), and a history past them changes the button's count alone.
  const box = document.getElementById("events");
  const shown = Math.max(EVENT_PAGE, box.shown || 0);
  const start = events.length ? events[0].timestamp * 1000 : 0;
  let table = document.getElementById("event-table");
  if (!table) {
    table = h("table", {id: "event-table"}, h("tr", {}, ["ID", "Type", "Elapsed", "Details"].map((t) => h("th", {text: t}))));
    box.replaceChildren(table);
    box.drawn = 0;
  }
  table.append(...events.slice(box.drawn, shown).map((ev) => {
    const key = Object.keys(ev).find((k) => k.endsWith("EventDetails"));
    return h("tr", {}, h("td", {class: "num", text: ev.id}), h("td", {text: ev.type}),
      h("td", {class: "num", text: ms(Math.round(ev.timestamp * 1000 - start))}),
      h("td", {}, key ? eventDetails(ev[key]) : ""));
  }));
  box.drawn = Math.min(shown, events.length);
  const old = document.getElementById("more-events");
  if (old) old.remove();
  if (events.length > shown) {
    box.append(h("button", {class: "action", id: "more-events", onclick: () => { box.shown = shown + EVENT_PAGE; renderEvents(document.getElementById("execution").events); }},
      `Show ${Math.min(EVENT_PAGE, events.length - shown)} more of ${events.length - shown}`));
  }
}

async function mapRunPage(gen, arn) {
  const data = await get("maprun", {arn});
  if (gen !== generation) return;
  const m = data.mapRun;
  crumbs(link("#/", "State machines"), link("#/execution/" + encodeURIComponent(m.executionArn), short(m.executionArn)), h("span", {text: "Map Run"}));
  const counts = m.executionCounts;
  // A Map Run is redriven by redriving the execution that started it (AWS's RedriveExecution).
  const redrive = m.status === "FAILED" || m.status === "ABORTED"
    ? h("button", {class: "action", id: "redrive", onclick: () => runAction("redrive", m.executionArn)}, "Redrive the execution") : null;
  setMain(h("h2", {}, "Map Run " + short(arn) + " ", badge(m.status), " ", redrive || ""),
    h("p", {id: "maprun-counts", class: "counts"}, ["pending", "running", "succeeded", "failed", "timedOut", "aborted", "total"].map((k) =>
      h("span", {"data-count": k}, k + ": ", h("b", {text: counts[k] ?? 0})))),
    h("div", {class: "strip", id: "maprun-strip"}, data.executions.map((c) =>
      h("a", {href: "#/execution/" + encodeURIComponent(c.executionArn), class: "bar-" + c.status, title: c.name + ": " + c.status}))),
    data.failed.length ? [h("h3", {text: "Failed items"}), h("table", {}, h("tr", {}, ["Child", "Error", "Cause", "Input"].map((t) => h("th", {text: t}))),
      data.failed.map((f) => h("tr", {}, h("td", {}, link("#/execution/" + encodeURIComponent(f.executionArn), f.name)),
        h("td", {class: "error", text: f.error || f.status}), h("td", {}, h("pre", {text: pretty(f.cause)})), h("td", {}, h("pre", {text: pretty(f.input)})))))] : [],
    h("h3", {text: "Child executions"}), h("table", {id: "children"}, h("tr", {}, ["Name", "Status", "Started"].map((t) => h("th", {text: t}))),
      data.executions.map((c) => h("tr", {}, h("td", {}, link("#/execution/" + encodeURIComponent(c.executionArn), c.name)),
        h("td", {}, badge(c.status)), h("td", {text: when(c.startDate)})))));
  live("updated " + new Date().toLocaleTimeString());
  if (!TERMINAL.has(m.status)) poll(() => gen === generation && mapRunPage(gen, arn), 1500);
}

async function functionsPage(gen) {
  crumbs(h("span", {text: "Lambda functions"}));
  const data = await get("functions");
  if (gen !== generation) return;
  const rows = data.functions.map((f) => h("tr", {"data-function": f.FunctionName},
    h("td", {}, link("#/function/" + encodeURIComponent(f.FunctionName), f.FunctionName)), h("td", {text: f.Runtime}),
    h("td", {text: f.Handler}), h("td", {class: "num", text: f.MemorySize + " MB"}), h("td", {class: "num", text: f.Timeout + " s"}),
    h("td", {text: f.State})));
  setMain(h("h2", {text: "Lambda functions"}), rows.length
    ? h("table", {}, h("tr", {}, ["Name", "Runtime", "Handler", "Memory", "Timeout", "State"].map((t) => h("th", {text: t}))), rows)
    : h("p", {class: "muted", text: "No functions on this endpoint yet."}));
}

async function functionPage(gen, name) {
  crumbs(link("#/lambda", "Lambda functions"), h("span", {text: name}));
  const data = await get("invocations", {function: name});
  if (gen !== generation) return;
  const rows = data.invocations.map((inv) => {
    const r = inv.report;
    return h("tr", {"data-request": inv.requestId}, h("td", {text: when(inv.started)}), h("td", {class: "mono", text: inv.requestId}),
      h("td", {class: "num", text: r.durationMs !== undefined ? r.durationMs.toFixed(2) + " ms" : "running"}),
      h("td", {class: "num", text: r.initMs ? r.initMs.toFixed(0) + " ms" : ""}),
      h("td", {class: "num", text: r.maxMemoryMB !== undefined ? `${r.maxMemoryMB} / ${r.memoryMB} MB` : ""}),
      h("td", {}, badge(invocationOutcome(inv))),
      h("td", {}, h("details", {}, h("summary", {text: inv.lines.length + " lines"}), h("pre", {class: "log", text: inv.lines.join("\n")}))));
  });
  setMain(h("h2", {text: name}), rows.length
    ? h("table", {id: "invocations"}, h("tr", {}, ["Started", "Request", "Duration", "Init", "Memory used", "Outcome", "Log"].map((t) => h("th", {text: t}))), rows)
    : h("p", {class: "muted", text: "No invocations logged yet."}));
  live("updated " + new Date().toLocaleTimeString());
  poll(() => gen === generation && functionPage(gen, name), 3000);
}

// -- serving -----------------------------------------------------------------------------------
// GET /models of the serving API deployed on this endpoint, sampled while the page is open (kept
// in sessionStorage, so a reload keeps the curve): traffic share and accuracy per version.
const SERVING_KEY = "stepkit-serving-samples";
const SERVING_SAMPLES = 720;
const PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#e65100", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];
function servingSamples(apiId) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(SERVING_KEY) || "{}");
    return kept.api === apiId && Array.isArray(kept.samples) ? kept.samples : [];
  } catch (e) { return []; }
}
async function servingPage(gen) {
  crumbs(h("span", {text: "Serving"}));
  const data = await get("serving");
  if (gen !== generation) return;
  if (!data.api || data.error) {
    setMain(h("h2", {text: "Serving"}), data.api
      ? h("p", {class: "error", id: "serving-error", text: `${data.api.name}: GET /models answered ${data.status ?? "nothing"}: ${data.error}`})
      : h("p", {class: "muted", id: "no-serving", text: "No serving API on this endpoint (a REST API with GET /models): deploy the stack's serving function."}));
    live("updated " + new Date().toLocaleTimeString());
    poll(() => gen === generation && servingPage(gen), 5000);
    return;
  }
  const m = data.models;
  const samples = servingSamples(data.api.id);
  const sample = {t: Date.now() / 1000, v: {}};
  for (const v of m.versions) sample.v[v.version] = [v.observed_share, v.metrics.accuracy, v.metrics.requests];
  samples.push(sample);
  samples.splice(0, Math.max(0, samples.length - SERVING_SAMPLES));
  sessionStorage.setItem(SERVING_KEY, JSON.stringify({api: data.api.id, samples}));
  const colour = Object.fromEntries(m.versions.map((v, i) => [v.version, PALETTE[i % PALETTE.length]]));
  const pct = (x) => (x === null || x === undefined ? "" : (x * 100).toFixed(1) + " %");
  const rows = m.versions.map((v) => h("tr", {"data-version": v.version},
    h("td", {}, h("span", {class: "swatch", style: `background:${colour[v.version]}`}), " v" + v.version,
      v.version === m.champion ? " ★" : ""),
    h("td", {text: v.aliases.join(", ")}), h("td", {text: v.family || ""}),
    h("td", {class: "num", text: v.share === null || v.share === undefined ? "adaptive" : v.share.toFixed(1) + " %"}),
    h("td", {class: "num", text: pct(v.observed_share)}), h("td", {class: "num", text: v.metrics.requests}),
    h("td", {class: "num", text: v.metrics.errors}), h("td", {class: "num accuracy", text: pct(v.metrics.accuracy)}),
    h("td", {class: "num", text: v.metrics.p50_ms === null ? "" : ms(Math.round(v.metrics.p50_ms))}),
    h("td", {class: "num", text: v.metrics.p99_ms === null ? "" : ms(Math.round(v.metrics.p99_ms))})));
  const series = (index) => Object.fromEntries(m.versions.map((v) => [v.version,
    samples.filter((x) => x.v[v.version] && x.v[v.version][index] !== null).map((x) => [x.t, x.v[v.version][index]])]));
  setMain(h("h2", {}, `Serving: ${m.model_name} `, h("span", {class: "muted", text: `policy ${m.policy.kind}, revision ${m.revision}`})),
    h("table", {id: "serving-versions"}, h("tr", {}, ["Version", "Aliases", "Family", "Configured", "Observed", "Requests",
      "Errors", "Accuracy", "p50", "p99"].map((t) => h("th", {text: t}))), rows),
    h("div", {class: "charts"}, lineChart("traffic-chart", "Observed traffic share", series(0), colour),
      lineChart("accuracy-chart", "Accuracy (from feedback)", series(1), colour)),
    h("p", {class: "muted", text: `${m.requests} requests in all; sampled every 3 s while this page is open (${samples.length} samples); ${data.api.name} (${data.api.id}, stage ${data.api.stage}).`}));
  live("updated " + new Date().toLocaleTimeString());
  poll(() => gen === generation && servingPage(gen), 3000);
}

function lineChart(id, title, series, colour, opts) {
  // A line per series over time; the value axis 0-100 % unless opts.top (and opts.unit) say
  // otherwise; opts.step draws a step line (a value holds until the next sample).
  const {top = 1, unit = (v) => Math.round(v * 100) + " %", step = false, t0: start} = opts || {};
  const W = 520, H = 220, L = 52, B = 26, T = 22;
  const svg = s("svg", {id, class: "line-chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`});
  const points = Object.values(series).flat();
  const t0 = start ?? Math.min(...points.map((p) => p[0]), Date.now() / 1000);
  const t1 = Math.max(...points.map((p) => p[0]), t0 + 1);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 10), y = (v) => T + (1 - v / top) * (H - T - B);
  svg.append(s("text", {x: L, y: 14, class: "chart-title"}, document.createTextNode(title)));
  for (const v of [0, top / 2, top]) {
    svg.append(s("line", {x1: L, x2: W - 10, y1: y(v), y2: y(v), class: "grid"}),
      s("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, document.createTextNode(unit(v))));
  }
  svg.append(s("text", {x: W - 10, y: H - 6, "text-anchor": "end"}, document.createTextNode(`${+(t1 - t0).toFixed(1)} s`)));
  for (const [name, pts] of Object.entries(series)) {
    if (!pts.length) continue;
    const path = pts.map((p, i) => i === 0 ? `M${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`
      : (step ? `H${x(p[0]).toFixed(1)}V${y(p[1]).toFixed(1)}` : `L${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)).join(" ");
    svg.append(s("path", {d: path, class: "series", stroke: colour[name], "data-version": name, "data-points": pts.length}));
  }
  return svg;
}

function simulationPage() {
  // A `stepkit simulate --json` document, read from a file the user picks (nothing is sent anywhere).
  crumbs(h("span", {text: "Simulation"}));
  const out = h("div", {id: "simulation"});
  const pick = h("input", {type: "file", id: "simulation-file", accept: ".json,application/json", onchange: async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    try { showSimulation(out, JSON.parse(await file.text())); } catch (err) {
      out.replaceChildren(h("p", {class: "error", id: "simulation-error", text: `${file.name}: not a simulation document (${err.message})`}));
    }
  }});
  setMain(h("h2", {text: "Simulation"}), h("p", {class: "muted"}, "Open the output of ",
    h("code", {text: "stepkit simulate FILE --json > sim.json"}), ": "), pick, out);
}

function showSimulation(out, doc) {
  if (typeof doc.makespan_seconds !== "number" || !Array.isArray(doc.concurrency)) throw new Error("no makespan_seconds or concurrency");
  const peak = Math.max(1, ...doc.concurrency.map((p) => p[1]));
  const top = Math.max(peak, doc.quotas && doc.quotas.account_concurrency <= peak * 1.5 ? doc.quotas.account_concurrency : 0);
  const cost = doc.cost || {};
  const throttles = Object.entries(doc.throttles || {}).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  out.replaceChildren(
    h("dl", {id: "simulation-summary"}, h("dt", {text: "Status"}), h("dd", {}, badge(doc.status)),
      h("dt", {text: "Makespan"}), h("dd", {id: "simulation-makespan", text: doc.makespan_seconds + " s"}),
      h("dt", {text: "Lambda"}), h("dd", {text: `${doc.lambda.invocations} invocations, peak ${doc.lambda.peak_concurrency}, ${doc.lambda.cold_starts} cold starts`}),
      h("dt", {text: "Throttles"}), h("dd", {text: throttles}), h("dt", {text: "Retries"}), h("dd", {text: doc.retries}),
      cost.total ? [h("dt", {text: "Cost"}), h("dd", {text: `STANDARD $${(cost.total.standard ?? 0).toFixed(6)}` +
        (cost.total.express !== null && cost.total.express !== undefined ? `, EXPRESS $${cost.total.express.toFixed(6)}` : "")})] : []),
    lineChart("simulation-chart", "Lambda concurrency", {concurrency: doc.concurrency}, {concurrency: "#1565c0"},
      {top, unit: (v) => String(Math.round(v)), step: true, t0: 0}));
}

// -- the graph ------------------------------------------------------------------------------------
function nodeSize(node) {
  const w = Math.max(60, node.name.length * 7 + 28);
  if (node.type === "Start" || node.type === "End") return [44, 44];
  return node.type === "Choice" ? [w + 30, 48] : [w, 34];
}

function drawGraph(box, model, onPick) {
  const g = new dagre.graphlib.Graph({compound: true, multigraph: true});
  g.setGraph({rankdir: "TB", nodesep: 28, ranksep: 44, edgesep: 12, marginx: 16, marginy: 16});
  for (const grp of model.groups) g.setNode(grp.id, {label: grp.label, cluster: true});
  for (const grp of model.groups) if (grp.parent) g.setParent(grp.id, grp.parent);
  for (const node of model.nodes) {
    const [width, height] = nodeSize(node);
    g.setNode(node.id, {width, height, node});
    if (node.group) g.setParent(node.id, node.group);
  }
  model.edges.forEach((edge, i) => {
    // Into a branch or a processor: the group's own label says so.
    const text = edge.kind === "branch" || edge.kind === "items" ? "" : edge.label;
    const label = text.length > 40 ? text.slice(0, 39) + "…" : text;
    g.setEdge(edge.source, edge.target, {edge, label, width: label ? label.length * 5.6 + 6 : 0, height: label ? 14 : 0, labelpos: "c"}, "e" + i);
  });
  dagre.layout(g);
  const size = g.graph();
  const svg = s("svg", {width: size.width, height: size.height, viewBox: `0 0 ${size.width} ${size.height}`, id: "graph-svg"});
  svg.append(s("defs", {}, s("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"},
    s("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: "#7b8794"}))));
  for (const grp of model.groups) {
    const c = g.node(grp.id);
    svg.append(s("g", {class: "cluster", "data-group": grp.id}, s("rect", {x: c.x - c.width / 2, y: c.y - c.height / 2, width: c.width, height: c.height, rx: 6}),
      s("text", {x: c.x - c.width / 2 + 6, y: c.y - c.height / 2 + 12}, document.createTextNode(grp.label))));
  }
  for (const e of g.edges()) {
    const d = g.edge(e);
    const kind = d.edge.kind;
    const path = d.points.map((p, i) => (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1)).join(" ");
    svg.append(s("path", {d: path, class: "edge " + kind, "marker-end": "url(#arrow)"}, s("title", {}, document.createTextNode(d.edge.label))));
    if (d.label) svg.append(s("text", {x: d.x, y: d.y + 4, "text-anchor": "middle", class: "edge-label " + kind}, document.createTextNode(d.label)));
  }
  for (const id of g.nodes()) {
    const n = g.node(id);
    if (!n.node) continue;
    const node = n.node;
    const x = n.x - n.width / 2, y = n.y - n.height / 2;
    const shape = node.type === "Choice"
      ? s("polygon", {points: `${n.x},${y} ${x + n.width},${n.y} ${n.x},${y + n.height} ${x},${n.y}`})
      : node.type === "Start" || node.type === "End" ? s("ellipse", {cx: n.x, cy: n.y, rx: n.width / 2, ry: n.height / 2})
        : s("rect", {x, y, width: n.width, height: n.height, rx: node.type === "Succeed" || node.type === "Fail" ? 17 : 5});
    const el = s("g", {class: "node", "data-state": node.name, "data-type": node.type, "data-id": node.id}, shape,
      s("text", {x: n.x, y: n.y + 4, "text-anchor": "middle"}, document.createTextNode(node.name)),
      s("title", {}, document.createTextNode(node.type)));
    if (node.type !== "Start" && node.type !== "End") el.addEventListener("click", () => onPick(node.name));
    svg.append(el);
  }
  box.replaceChildren(svg);
}

function colourGraph(states, model, distributed) {
  // A Distributed Map's item processor runs in child executions, whose states are not in this
  // history: they take the Map state's outcome (its Map Run has each child's).
  const groups = Object.fromEntries(model.groups.map((g) => [g.id, g]));
  const names = Object.fromEntries(model.nodes.map((n) => [n.id, n]));
  const inherited = (node) => {
    for (let grp = groups[node.group]; grp; grp = groups[grp.parent]) {
      const owner = states[names[grp.state].name];
      if (grp.kind === "processor" && owner && distributed) return {...owner, durationMs: null, retries: 0, error: null, via: owner.name};
    }
    return undefined;
  };
  for (const el of document.querySelectorAll("g.node[data-state]")) {
    if (el.dataset.type === "Start" || el.dataset.type === "End") continue;
    const st = states[el.dataset.state] || inherited(names[el.dataset.id]);
    if (st) el.dataset.status = st.status; else delete el.dataset.status;
    const title = el.querySelector("title");
    title.textContent = st && st.via ? `${el.dataset.type} · run by the Map Run of ${st.via}`
      : st ? `${el.dataset.type} · ${st.status} · ${ms(st.durationMs)} · ${st.retries} retries${st.error ? " · " + st.error : ""}`
      : el.dataset.type + " · not run";
  }
}

// -- routing --------------------------------------------------------------------------------------
async function route() {
  clearTimeout(timer);
  const gen = ++generation;
  const [, page, arg] = location.hash.match(/^#\/([a-z]*)\/?(.*)$/) || [];
  const arn = decodeURIComponent(arg || "");
  try {
    if (page === "machine") await machinePage(gen, arn);
    else if (page === "execution") await executionPage(gen, arn);
    else if (page === "maprun") await mapRunPage(gen, arn);
    else if (page === "lambda") await functionsPage(gen);
    else if (page === "function") await functionPage(gen, arn);
    else if (page === "serving") await servingPage(gen);
    else if (page === "simulation") simulationPage();
    else await machinesPage(gen);
  } catch (err) {
    if (gen === generation) setMain(h("p", {class: "error", id: "failure", text: err.message}));
  }
}
window.addEventListener("hashchange", () => { document.getElementById("main").replaceChildren(); route(); });
route();
