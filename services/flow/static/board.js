// The silobridge board: polls this party's flow REST API every 2 s. No build step: the libraries
// (cytoscape + dagre for the DAG, uPlot for the curves) are vendored under /board/static/vendor.
// Every API call sends the API token (Authorization: Bearer), which comes from the sign-in field
// or from the address's fragment (/board#token=...; a fragment never reaches the server) and is
// kept in this tab's sessionStorage only.
"use strict";

const STATE_COLORS = {
  SUCCEEDED: "#2da44e", RUNNING: "#0969da", FAILED: "#cf222e", WAITING: "#d4a72c",
  CANCELLED: "#8c959f", NONE: "#eaeef2",
};
const JOB_STATES = ["PROPOSED", "HELD", "ACCEPTED", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED", "REFUSED"];
const POLL_MS = 2000;
const LOG_TAIL = 200;

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v) => (Number.isInteger(v) ? String(v) : Number(v).toPrecision(4));
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
const path = (...parts) => parts.map(encodeURIComponent).join("/");

// /board#token=...&job=<id>: sign in and open that job's page as soon as the job is listed.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) sessionStorage.setItem("silobridge-token", fragment.get("token"));
if (location.hash) history.replaceState(null, "", location.pathname);
const token = () => sessionStorage.getItem("silobridge-token") || "";

// ----- API -----------------------------------------------------------------------------------
class ApiError extends Error {}

async function api(url, method = "GET", body = undefined) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  $("login").hidden = r.status !== 401;
  if (r.status === 401 || r.status === 403) {
    const out = await r.json();
    throw new ApiError(out.error.message);
  }
  if (!r.ok) {
    const out = await r.json().catch(() => ({ error: { message: `HTTP ${r.status}` } }));
    throw new ApiError(out.error.message);
  }
  return r.headers.get("content-type")?.startsWith("application/json") ? r.json() : r.blob();
}

// ----- state ---------------------------------------------------------------------------------
const board = {
  view: "jobs",
  jobs: [],
  job: null, // the selected job's detail
  party: null, // whose task states the DAG shows
  task: null, // the task whose details and log are shown
  cy: null,
  cyJob: null,
  charts: {}, // "task/metric" -> {plot, points}
  log: { key: null, next: 0, lines: 0 },
  want: fragment.get("job"), // a job to open once it is listed
};
window.board = board; // for the browser tests and for poking at in the console

// ----- jobs list -----------------------------------------------------------------------------
for (const s of JOB_STATES) $("f-state").insertAdjacentHTML("beforeend", `<option>${s}</option>`);
for (const id of ["f-text", "f-state", "f-role"]) $(id).addEventListener("input", renderJobs);

function renderJobs() {
  const text = $("f-text").value.trim().toLowerCase();
  const state = $("f-state").value;
  const role = $("f-role").value;
  const shown = board.jobs.filter(
    (j) => (!text || j.job_id.toLowerCase().includes(text)) && (!state || j.state === state) && (!role || j.role === role),
  );
  $("jobs").innerHTML = shown.map((j) =>
    `<div class="job ${board.job && j.job_id === board.job.job_id ? "sel" : ""}" data-job="${esc(j.job_id)}">
       ${esc(j.job_id)}<br><span class="st ${esc(j.state)}">${esc(j.state)}</span> ${esc(j.role)}
       <small class="hint">${esc(when(j.created))}</small></div>`).join("") || `<p class="hint">No job matches.</p>`;
}

$("jobs").addEventListener("click", (ev) => {
  const el = ev.target.closest("[data-job]");
  if (el) selectJob(el.dataset.job);
});

async function selectJob(id) {
  board.job = { job_id: id };
  board.party = null;
  board.task = null;
  board.pinned = false;
  renderJobs();
  await refreshJob();
}

// ----- the job page --------------------------------------------------------------------------
async function refreshJob() {
  if (!board.job) return;
  const job = await api(`/v1/jobs/${path(board.job.job_id)}`);
  board.job = job;
  $("party").textContent = `party ${job.party_id}`;
  if (board.party === null) board.party = job.party_id;
  if (!$("dag") || board.cyJob !== job.job_id) renderJobFrame(job);
  renderJobHead(job);
  updateDag(job);
  renderTaskTable(job);
  await refreshCurves(job);
  await refreshTask(job);
}

function renderJobFrame(job) {
  $("job").innerHTML = `<div id="job-head"></div>
    <div id="party-tabs"></div>
    <div class="legend">${Object.entries(STATE_COLORS).map(([s, c]) =>
      `<span><i style="background:${c}"></i>${s === "NONE" ? "not at this party" : s}</span>`).join("")}</div>
    <div id="dag"></div>
    <h3>Tasks</h3><div id="task-table"></div>
    <h3>Curves <small class="hint">(this party's runs)</small></h3><div id="curves"></div>
    <h3>Task <span id="task-name"></span></h3><div id="task"></div>
    <div><label>log: last <select id="log-tail"><option>50</option><option selected>200</option><option>1000</option></select> lines</label>
      <label><input type="checkbox" id="log-follow" checked> follow</label></div>
    <pre id="log"></pre>`;
  $("party-tabs").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-party]");
    if (!b) return;
    board.party = Number(b.dataset.party);
    renderJobHead(board.job);
    updateDag(board.job);
  });
  $("log-tail").addEventListener("change", () => { board.log.key = null; refresh(); });
  for (const c of Object.values(board.charts)) c.plot.destroy();
  board.charts = {};
  board.log = { key: null, next: 0, lines: 0 };
  if (board.cy) board.cy.destroy();
  board.cy = cytoscape({
    container: $("dag"),
    elements: [
      ...job.dag.map((c) => ({ data: { id: c.name, component: c.component, state: "NONE", label: "" } })),
      ...job.dag.flatMap((c) => c.needs.map((n) => ({ data: { id: `${n}->${c.name}`, source: n, target: c.name } }))),
    ],
    style: [
      { selector: "node", style: {
        shape: "round-rectangle", width: 150, height: 58, label: "data(label)", "text-wrap": "wrap",
        "text-valign": "center", "font-size": 11, "background-color": (n) => STATE_COLORS[n.data("state")] || STATE_COLORS.NONE,
        color: (n) => (["NONE", "WAITING"].includes(n.data("state")) ? "#1f2328" : "#fff"),
        "border-width": 1, "border-color": "#57606a" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#1f2328" } },
      { selector: "edge", style: { width: 2, "line-color": "#8c959f", "target-arrow-color": "#8c959f",
        "target-arrow-shape": "triangle", "curve-style": "bezier" } },
    ],
    layout: { name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 50 },
    userZoomingEnabled: false,
    autoungrabify: true,
  });
  board.cy.on("tap", "node", (ev) => {
    board.task = ev.target.id();
    board.pinned = true;
    refresh();
  });
  board.cyJob = job.job_id;
}

function renderJobHead(job) {
  $("job-head").innerHTML = `<h2>${esc(job.job_id)} <span class="st ${esc(job.state)}">${esc(job.state)}</span></h2>
    ${job.message ? `<p class="msg">${esc(job.message)}</p>` : ""}
    <p>initiator ${esc(job.initiator)} · this party ${esc(job.party_id)} (${esc(job.role)}) · created ${esc(when(job.created))}</p>`;
  $("party-tabs").innerHTML = "task states at: " + job.parties.map((p) =>
    `<button data-party="${p.party_id}" class="${p.party_id === board.party ? "on" : ""}">${esc(p.role)} ${p.party_id}
      <span class="st ${esc(p.state)}">${esc(p.state)}</span></button>`).join("");
}

function taskAt(job, name, party) {
  return job.tasks.find((t) => t.name === name && t.party_id === party);
}

function updateDag(job) {
  board.cy.batch(() => {
    for (const c of job.dag) {
      const t = taskAt(job, c.name, board.party);
      const state = t ? t.state : "NONE";
      const extra = t && t.state === "RUNNING" ? ` ${Math.round(t.progress * 100)}%` : t && t.attempt > 1 ? ` #${t.attempt}` : "";
      const node = board.cy.getElementById(c.name);
      node.data({ state, label: `${c.name}\n${c.component}\n${t ? state + extra : "–"}` });
    }
  });
}

function renderTaskTable(job) {
  const cell = (name, party) => {
    const t = taskAt(job, name, party);
    if (!t) return "<td>–</td>";
    return `<td><span class="st ${esc(t.state)}">${esc(t.state)}</span>${t.attempt > 1 ? ` #${t.attempt}` : ""}
      ${t.state === "RUNNING" ? ` ${Math.round(t.progress * 100)}%` : ""}
      ${t.message ? `<div class="msg">${esc(t.message)}</div>` : ""}</td>`;
  };
  $("task-table").innerHTML = `<table><tr><th>task</th>${job.parties.map((p) => `<th>${esc(p.role)} ${p.party_id}</th>`).join("")}</tr>
    ${job.dag.map((c) => `<tr><td><b>${esc(c.name)}</b> <small>${esc(c.component)}</small></td>
      ${job.parties.map((p) => cell(c.name, p.party_id)).join("")}</tr>`).join("")}</table>`;
}

// ----- curves ---------------------------------------------------------------------------------
// Every metric with points at several steps is a curve over steps (loss, validation_loss, ...).
// The evaluation's threshold sweep (threshold, recall_at_threshold = TPR, fpr_at_threshold) is
// drawn as the ROC curve and as the KS curve (TPR and FPR over the threshold; KS is their widest
// gap). Metrics logged once (auc, ks, accuracy, ...) are listed as numbers.
async function refreshCurves(job) {
  const mine = job.tasks.filter((t) => t.party_id === job.party_id && Object.keys(t.metrics).length);
  for (const t of mine) {
    let section = $(`curves-${t.name}`);
    if (!section) {
      $("curves").insertAdjacentHTML("beforeend",
        `<div id="curves-${esc(t.name)}"><h4>${esc(t.name)}</h4><div class="scalars"></div><div class="charts"></div></div>`);
      section = $(`curves-${t.name}`);
    }
    if (section.dataset.done) continue;
    const { metrics } = await api(`/v1/jobs/${path(job.job_id, "tasks", t.name, "metrics")}`);
    drawTaskCurves(t.name, section, metrics);
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(t.state)) section.dataset.done = "1";
  }
  if (!mine.length) $("curves").innerHTML = `<p class="hint">No metric logged yet.</p>`;
  else $("curves").querySelector(".hint")?.remove();
}

function drawTaskCurves(task, section, metrics) {
  const scalars = [];
  for (const [name, points] of Object.entries(metrics)) {
    if (name.endsWith("_at_threshold") || name === "threshold") continue;
    const last = points[points.length - 1];
    if (new Set(points.map((p) => p.step)).size < 2) { scalars.push(`<span>${esc(name)} <b>${num(last.value)}</b></span>`); continue; }
    const byStep = new Map(points.map((p) => [p.step, p.value])); // a retry's points replace the earlier attempt's
    const steps = [...byStep.keys()].sort((a, b) => a - b);
    chart(section, `${task}/${name}`, `${name} (last ${num(last.value)})`, "step",
      [steps, steps.map((s) => byStep.get(s))], [{ label: name, stroke: "#0969da" }]);
  }
  section.querySelector(".scalars").innerHTML = scalars.join("");
  const sweep = (n) => new Map((metrics[n] || []).map((p) => [p.step, p.value]));
  const thr = sweep("threshold"), tpr = sweep("recall_at_threshold"), fpr = sweep("fpr_at_threshold");
  if (thr.size > 1 && tpr.size === thr.size && fpr.size === thr.size) {
    const steps = [...thr.keys()].sort((a, b) => thr.get(a) - thr.get(b));
    const roc = [[0, 0], ...steps.map((s) => [fpr.get(s), tpr.get(s)]), [1, 1]].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    chart(section, `${task}/roc`, "ROC", "false positive rate",
      [roc.map((p) => p[0]), roc.map((p) => p[1]), roc.map((p) => p[0])],
      [{ label: "TPR", stroke: "#0969da" }, { label: "chance", stroke: "#8c959f", dash: [4, 4] }]);
    const ks = steps.map((s) => tpr.get(s) - fpr.get(s));
    chart(section, `${task}/ks`, `KS (max gap ${num(Math.max(...ks))})`, "threshold",
      [steps.map((s) => thr.get(s)), steps.map((s) => tpr.get(s)), steps.map((s) => fpr.get(s)), ks],
      [{ label: "TPR", stroke: "#0969da" }, { label: "FPR", stroke: "#cf222e" }, { label: "TPR-FPR", stroke: "#1a7f37" }]);
  }
}

function chart(section, key, title, xLabel, data, series) {
  const have = board.charts[key];
  if (have) {
    if (have.points !== data[0].length) { have.plot.setData(data); have.points = data[0].length; }
    have.box.querySelector("h5").textContent = title;
    return;
  }
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.chart = key;
  box.innerHTML = `<h5></h5>`;
  box.querySelector("h5").textContent = title;
  section.querySelector(".charts").appendChild(box);
  const plot = new uPlot({
    width: 340, height: 190,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, {}],
    series: [{ label: xLabel }, ...series.map((s) => ({ width: 1.5, points: { show: data[0].length < 40 }, ...s }))],
  }, data, box);
  board.charts[key] = { plot, points: data[0].length, box };
}

// ----- one task: details, summary, model and log ---------------------------------------------
async function refreshTask(job) {
  if (!board.pinned) { // until a task is clicked, show the one running here (else the latest to run)
    const ran = job.tasks.filter((t) => t.party_id === job.party_id && t.started);
    const pick = ran.find((t) => t.state === "RUNNING") || ran.sort((a, b) => b.started - a.started)[0];
    board.task = pick ? pick.name : job.dag[0]?.name;
  }
  const name = board.task;
  if (!name) return;
  board.cy.$(":selected").unselect();
  board.cy.getElementById(name).select();
  $("task-name").textContent = name;
  const rows = job.parties.map((p) => [p, taskAt(job, name, p.party_id)]).filter(([, t]) => t);
  $("task").innerHTML = `<table><tr><th>party</th><th>state</th><th>attempt</th><th>node</th><th>started</th><th>ended</th><th>summary</th></tr>
    ${rows.map(([p, t]) => `<tr><td>${esc(p.role)} ${p.party_id}</td><td><span class="st ${esc(t.state)}">${esc(t.state)}</span>
      ${t.message ? `<div class="msg">${esc(t.message)}</div>` : ""}</td><td>${t.attempt}</td><td>${esc(t.node_id)}</td>
      <td>${esc(when(t.started))}</td><td>${esc(when(t.ended))}</td>
      <td>${Object.entries(t.summary).map(([k, v]) => `${esc(k)}=${num(v)}`).join(" ")}</td></tr>`).join("")}</table>`;
  const mine = taskAt(job, name, job.party_id);
  if (!mine) { $("log").textContent = `task ${name} does not run at this party`; board.log.key = null; return; }
  if (board.models?.[job.job_id]?.includes(name)) {
    $("task").insertAdjacentHTML("beforeend",
      `<button data-download="${esc(job.job_id)}/${esc(name)}">download this party's model</button>`);
  }
  await refreshLog(job, name, mine.state);
}

async function refreshLog(job, name, state) {
  const key = `${job.job_id}/${name}`;
  const pre = $("log");
  if (board.log.key !== key) {
    const out = await api(`/v1/jobs/${path(job.job_id, "tasks", name, "log")}?tail=${$("log-tail").value}`);
    board.log = { key, next: out.next, lines: out.lines.length };
    pre.textContent = out.lines.map(logLine).join("\n");
    pre.scrollTop = pre.scrollHeight;
    return;
  }
  if (!$("log-follow").checked) return;
  const out = await api(`/v1/jobs/${path(job.job_id, "tasks", name, "log")}?tail=0&after=${board.log.next}`);
  if (!out.lines.length) return;
  board.log.next = out.next;
  board.log.lines += out.lines.length;
  pre.textContent += (pre.textContent ? "\n" : "") + out.lines.map(logLine).join("\n");
  pre.scrollTop = pre.scrollHeight;
}

const logLine = (l) => `${new Date(l.time * 1000).toLocaleTimeString()} #${l.attempt} ${l.line}`;

// ----- models and approvals -------------------------------------------------------------------
async function refreshModels() {
  const { models } = await api("/v1/models?jobs=100");
  board.models = {};
  for (const m of models) (board.models[m.job_id] ||= []).push(m.task);
  if (board.view !== "models") return;
  $("models").innerHTML = models.length ? `<table><tr><th>job</th><th>task</th><th>component</th><th>role</th>
      <th>created</th><th>bytes</th><th>summary</th><th></th></tr>
    ${models.map((m) => `<tr><td><a href="#" data-open="${esc(m.job_id)}">${esc(m.job_id)}</a></td><td>${esc(m.task)}</td>
      <td>${esc(m.component)}</td><td>${esc(m.role)}</td><td>${esc(when(m.created))}</td><td>${m.size}</td>
      <td>${Object.entries(m.summary).map(([k, v]) => `${esc(k)}=${num(v)}`).join(" ")}</td>
      <td><button data-download="${esc(m.job_id)}/${esc(m.task)}">download</button></td></tr>`).join("")}</table>`
    : `<p class="hint">No model at this party yet.</p>`;
}

async function refreshApprovals() {
  const { pending = [] } = await api("/v1/approvals");
  $("pending-count").textContent = pending.length || "";
  $("approvals").innerHTML = pending.map((j) =>
    `<div><b>${esc(j.job_id)}</b> from party ${esc(j.initiator)} (this party: ${esc(j.role)})<br><small>${esc(j.reason)}</small><br>
       <button data-decide="approve" data-id="${esc(j.job_id)}">approve</button>
       <button data-decide="refuse" data-id="${esc(j.job_id)}">refuse</button></div>`).join("") ||
    `<p class="hint">Nothing is waiting.</p>`;
}

document.addEventListener("click", async (ev) => {
  const el = ev.target.closest("[data-decide], [data-download], [data-open], [data-view]");
  if (!el) return;
  ev.preventDefault();
  try {
    if (el.dataset.view) show(el.dataset.view);
    else if (el.dataset.open) { show("jobs"); await selectJob(el.dataset.open); }
    else if (el.dataset.decide) {
      const verdict = el.dataset.decide;
      await api(`/v1/jobs/${path(el.dataset.id, verdict)}`, "POST", verdict === "refuse" ? { reason: "refused on the board" } : undefined);
      await refresh();
    } else if (el.dataset.download) {
      const [job, task] = el.dataset.download.split("/");
      const blob = await api(`/v1/jobs/${path(job, "models", task)}`);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${job}-${task}.pb`;
      a.click();
      URL.revokeObjectURL(a.href);
    }
  } catch (e) { notice(e); }
});

function show(view) {
  board.view = view;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", b.dataset.view === view);
  for (const v of ["jobs", "models", "approvals"]) $(`view-${v}`).hidden = v !== view;
  if (view === "jobs" && board.cy) board.cy.resize();
  refresh();
}

// ----- polling --------------------------------------------------------------------------------
function notice(e) {
  if (!(e instanceof ApiError)) throw e; // a bug in this page: let it surface (the browser tests fail on it)
  $("notice").textContent = e.message;
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("silobridge-token", $("tok").value);
  refresh();
});

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const { jobs } = await api("/v1/jobs?limit=200");
    $("notice").textContent = "";
    board.jobs = jobs;
    if (board.want && jobs.some((j) => j.job_id === board.want)) {
      board.job = { job_id: board.want };
      board.want = null;
    }
    renderJobs();
    await refreshApprovals();
    await refreshModels();
    if (board.view === "jobs") await refreshJob();
  } catch (e) {
    notice(e);
  } finally {
    busy = false;
  }
}

refresh();
setInterval(refresh, POLL_MS);
