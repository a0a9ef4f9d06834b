// The workshop page. Plain browser JavaScript over the nodes' public API; no build, no
// framework, nothing fetched from outside the nodes.
//
// Where data comes from:
// - this node (same origin): the record search, the record and its timeline, governance;
// - every node of the network (GET /api/v1/network lists them): its status and live feed,
//   pushed over server-sent events (GET /api/v1/feed, one EventSource per node), and its own
//   verdict on the selected record (GET …/verify, and …/differences when it disagrees), read
//   from that node directly, so each node answers for itself.
// Nothing here polls: everything after the first load is triggered by a pushed message or
// by the presenter.
"use strict";

const API = "/api/v1";
const FEED_SIZE = 40;
const DEFAULT_EXAMPLE = "KELTRA"; // EM/TM/011215714 in the demo data: transferred to Nortaar SAS
const NICE = {
  9: "Computer software; downloadable mobile applications",
  25: "Clothing; footwear; headwear",
  30: "Coffee; tea; cocoa; bread; pastries",
  35: "Advertising; business management",
  42: "Software as a service [SaaS]",
};
const RELATIONS = {
  priority: ["claims priority of", "priority claimed by"],
  "earlier-right": ["opposed on the earlier right", "earlier right opposing"],
  "madrid-designation": ["designated from", "designated in"],
  "hague-designation": ["designated from", "designated in"],
  seniority: ["claims seniority of", "seniority claimed by"],
};

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const esc = (value) =>
  String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const state = {
  nodes: [], // {office, name, url, local, api, demo, offices, status, up, check}
  selected: null,
  feed: new Map(), // entry hash -> feed item (with .seen: node index -> time)
  pending: new Map(), // record key -> submission being watched
  proposals: new Map(), // proposal id -> voters last shown
  governanceBlock: -1,
  recordToken: 0,
  timers: {},
};

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function request(url, options = {}) {
  // A node that stops answering mid-request (restarting, killed) fails the request in 20 s.
  const reply = await fetch(url, { signal: AbortSignal.timeout(20000), ...options });
  const text = await reply.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = { detail: text }; }
  if (!reply.ok) throw new ApiError(reply.status, body);
  return body;
}
const get = (path) => request(API + path);

function later(name, delay, action) {
  clearTimeout(state.timers[name]);
  state.timers[name] = setTimeout(action, delay);
}

function time(iso) {
  const when = new Date(iso);
  return isNaN(when) ? "" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function holderOf(data) {
  const parties = data && data.applicants;
  return Array.isArray(parties) && parties.length ? parties.map((p) => p.name).join("; ") : null;
}

function nodeLabel(node) {
  if (node.offices && node.offices.length > 1 && state.nodes.length === 1) return node.offices.join(" · ");
  return node.office;
}

// --- the network: nodes, their status, their view of the selected record -----------------

async function loadNetwork() {
  const own = await get("/network");
  state.self = own;
  const nodes = own.nodes.map((n) => {
    let local = false;
    try { local = new URL(n.url).origin === location.origin; } catch (_) { local = false; }
    return { ...n, local, api: local ? API : n.url + API, demo: false, offices: [], status: null, up: false, check: null };
  });
  if (!nodes.some((n) => n.local)) {
    nodes.unshift({ office: own.signing_offices[0] || "this", name: "this node", url: location.origin, local: true, api: API });
  }
  for (const node of nodes) {
    Object.assign(node, { demo: false, offices: [], status: null, up: false, check: null });
    if (node.local) Object.assign(node, { demo: own.demo, offices: own.signing_offices });
  }
  state.nodes = nodes;
  renderNodes();
  nodes.forEach((node, index) => {
    connect(node, index);
    if (!node.local) {
      request(node.api + "/network")
        .then((info) => { node.demo = info.demo; node.offices = info.signing_offices; renderNode(index); fillSubmitNodes(); })
        .catch(() => { node.up = false; renderNode(index); });
    }
  });
  fillSubmitNodes();
}

function connect(node, index) {
  const source = new EventSource(node.api + "/feed");
  node.source = source;
  source.addEventListener("status", (message) => {
    const wasDown = !node.up;
    node.status = JSON.parse(message.data);
    node.up = true;
    if (node.status.signing_offices) node.offices = node.status.signing_offices;
    renderNode(index);
    if (node.local) {
      renderChain(node.status);
      if (node.status.indexed_block !== state.governanceBlock) {
        state.governanceBlock = node.status.indexed_block;
        later("governance", 100, loadGovernance);
      }
    }
    const unsure = node.check && ["down", "failed"].includes(node.check.state);
    if ((wasDown || unsure) && state.selected) checkNode(index, state.selected);
  });
  source.addEventListener("events", (message) => onEvents(index, JSON.parse(message.data)));
  source.onerror = () => {
    node.up = false;
    renderNode(index);
    $("#feed-state").textContent = `(${state.nodes.filter((n) => n.up).length} of ${state.nodes.length} nodes pushing)`;
  };
  source.onopen = () => {
    $("#feed-state").textContent = state.nodes.length > 1 ? `(pushed by ${state.nodes.length} nodes)` : "(pushed by this node)";
  };
}

function renderChain(status) {
  const live = state.nodes.filter((n) => n.up).length;
  $("#chain").textContent =
    `chain ${status.chain_id} · head block ${status.chain_head} · indexed ${status.indexed_block} · ` +
    `${live} of ${state.nodes.length} node${state.nodes.length > 1 ? "s" : ""} live`;
}

function renderNodes() {
  $("#nodes").innerHTML = state.nodes.map((_, index) => `<div class="node" data-index="${index}"></div>`).join("");
  state.nodes.forEach((_, index) => renderNode(index));
}

function renderNode(index) {
  const node = state.nodes[index];
  const card = $(`.node[data-index="${index}"]`);
  if (!card) return;
  const status = node.status;
  const check = node.check;
  card.className = "node " + (node.up ? "up" : "down") + (check && check.state === "verified" ? " ok" : "") +
    (check && check.state === "tampered" ? " bad" : "");
  card.dataset.office = node.office;
  card.dataset.url = node.url;
  card.dataset.verdict = check ? check.state : "";
  const numbers = status
    ? `head ${status.chain_head} · indexed ${status.indexed_block} · lag ${status.index_lag_blocks}`
    : node.up ? "…" : "not answering";
  let verdict = `<span class="muted">no record selected</span>`;
  if (check && state.selected) {
    const label = {
      verified: "same as the chain", tampered: "DIFFERS from the chain", absent: "not indexed here",
      checking: "checking…", down: "unreachable", failed: "could not check",
    }[check.state] || check.state;
    verdict = `<span class="badge ${esc(check.state)}">${esc(check.state)}</span> <span class="muted">${esc(state.selected)}: ${esc(label)}</span>`;
  }
  const tamperButton = node.demo && state.selected && node.up
    ? `<button type="button" class="tamper" title="DEMO: change this record's holder in this node's database only">Tamper</button>`
    : "";
  const diffs = check && check.state === "tampered"
    ? (check.sentences.length ? check.sentences : ["stored data differs from the anchored data"])
        .map((s) => `<div class="line diff" title="${esc(s)}">${esc(s)}</div>`).join("") +
      `<div class="line muted">the chain still holds the original; only this node's copy changed</div>`
    : "";
  const html = `
    <div class="line"><span class="dot" title="${node.up ? "pushing its feed" : "not answering"}"></span><span class="who">${esc(nodeLabel(node))}</span>
      <span class="url grow" title="${esc(node.name || "")}">${esc(node.url.replace(/^https?:\/\//, ""))}</span>${tamperButton}</div>
    <div class="line muted">${node.up ? "" : "down · "}${esc(numbers)}</div>
    <div class="line verdict-line">${verdict}</div>${diffs}`;
  if (card.dataset.html === html) return; // unchanged: keep the elements (a click in progress)
  card.dataset.html = html;
  card.innerHTML = html;
  const button = $(".tamper", card);
  if (button) button.onclick = () => tamper(index);
}

async function checkNode(index, key) {
  const node = state.nodes[index];
  node.check = { state: "checking", sentences: [] };
  renderNode(index);
  let check;
  try {
    const result = await request(`${node.api}/records/${key}/verify`);
    if (result.ok) {
      check = { state: "verified", sentences: [] };
    } else {
      let sentences = [];
      try {
        const found = await request(`${node.api}/records/${key}/differences`);
        sentences = found.differences.map((d) => d.sentence);
      } catch (_) { sentences = result.discrepancies.map((d) => d.detail); }
      check = { state: "tampered", sentences: [...new Set(sentences)] };
    }
  } catch (error) {
    check = { state: error instanceof ApiError ? (error.status === 404 ? "absent" : "failed") : "down", sentences: [] };
  }
  if (state.selected === key) {
    node.check = check;
    renderNode(index);
  }
}

function checkNetwork(key) {
  state.nodes.forEach((_, index) => checkNode(index, key));
}

async function tamper(index) {
  const node = state.nodes[index];
  const key = state.selected;
  if (!key) return;
  try {
    const result = await request(`${node.api}/demo/records/${key}/tamper`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    node.check = { state: "tampered", sentences: [...new Set(result.differences.differences.map((d) => d.sentence))] };
    renderNode(index);
  } catch (error) {
    node.check = { state: "failed", sentences: [String(error.message)] };
    renderNode(index);
  }
  if (node.local) showRecord(key, { keepNetwork: true });
  state.nodes.forEach((other, i) => { if (i !== index) checkNode(i, key); });
}

// --- the live feed (pushed) ---------------------------------------------------------------

function onEvents(index, items) {
  const now = performance.now();
  let touched = false;
  let selectedChanged = false;
  for (const item of items) {
    let entry = state.feed.get(item.entry_hash);
    if (!entry) {
      entry = { ...item, seen: {}, fresh: !item.backlog };
      state.feed.set(item.entry_hash, entry);
    }
    if (!(index in entry.seen)) { entry.seen[index] = now; touched = true; }
    if (!item.backlog && item.record_key === state.selected) selectedChanged = true;
    const pending = state.pending.get(item.record_key);
    if (pending && !item.backlog) notePending(pending, item, index, now);
  }
  if (touched) renderFeed();
  if (selectedChanged) later("record", 150, () => showRecord(state.selected));
}

function renderFeed() {
  const items = Array.from(state.feed.values()).sort((a, b) => b.block_number - a.block_number || b.log_index - a.log_index);
  for (const stale of items.slice(FEED_SIZE)) state.feed.delete(stale.entry_hash);
  const count = state.nodes.length;
  $("#feed").innerHTML = items.slice(0, FEED_SIZE).map((e) => {
    const dots = count > 1
      ? `<span class="seen" title="in the feed of ${Object.keys(e.seen).map((i) => state.nodes[i].office).join(", ")}">` +
        state.nodes.map((_, i) => `<i class="${i in e.seen ? "on" : ""}"></i>`).join("") + "</span>"
      : "";
    const fresh = e.fresh ? " new" : "";
    e.fresh = false;
    return `<div class="feed-item${fresh}" data-key="${esc(e.record_key)}" data-entry="${esc(e.entry_hash)}" title="${esc(e.record_key)} · ${esc(e.event_code)} ${esc(e.event_name || "")}${e.holder ? " · " + esc(e.holder) : ""}">${dots}` +
      `<span class="when">${esc(time(e.anchored_at))}</span> <span class="office">${esc(e.office)}</span> ` +
      `<span class="ev">${esc(e.event_name || e.event_code)}</span> · <span class="mark">${esc(e.mark_text || "")}</span> ` +
      `<span class="muted">${esc(e.record_key)}</span></div>`;
  }).join("");
  for (const row of $$(".feed-item", $("#feed"))) row.onclick = () => showRecord(row.dataset.key);
}

// --- search -------------------------------------------------------------------------------

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "20" });
  if ($("#q").value) params.set("text", $("#q").value);
  if ($("#office").value) params.set("office", $("#office").value);
  if ($("#type").value) params.set("type", $("#type").value);
  try {
    const { items, total } = await get("/records?" + params);
    $("#results").innerHTML = `<div class="muted">${total} record${total === 1 ? "" : "s"}</div>` + items.map((r) =>
      `<div data-key="${esc(r.record_key)}" class="${r.record_key === state.selected ? "on" : ""}"><b>${esc(r.mark_text || r.record_key)}</b> ` +
      `<span class="muted">${esc(r.record_key)} · ${esc(r.status)}${holderOf(r.data) ? " · " + esc(holderOf(r.data)) : ""}</span></div>`).join("");
    for (const row of $$("[data-key]", $("#results"))) row.onclick = () => showRecord(row.dataset.key);
    return items;
  } catch (error) {
    $("#results").innerHTML = `<div class="status bad">${esc(error.message)}</div>`;
    return [];
  }
}

async function choosePlaceholder() {
  // An example that finds something on this node: the demo's KELTRA, else a mark it has.
  try {
    const found = await get(`/records?text=${DEFAULT_EXAMPLE}&limit=1&fields=record_key`);
    if (found.total > 0) return found.items[0].record_key;
    const any = await get("/records?type=TM&limit=1&sort=updated&order=desc&fields=record_key,mark_text");
    const mark = any.items.length && any.items[0].mark_text;
    if (mark) $("#q").placeholder = `mark text, e.g. ${mark.split(/\s+/)[0]}`;
    return any.items.length ? any.items[0].record_key : null;
  } catch (_) {
    return null;
  }
}

// --- one record: its timeline checked against the chain, its links ------------------------

const LINK_LABELS = (relation, direction) => (RELATIONS[relation] || [`${relation} →`, `${relation} ←`])[direction === "outgoing" ? 0 : 1];

async function showRecord(key, options = {}) {
  if (!key) return;
  const changed = key !== state.selected;
  state.selected = key;
  const token = ++state.recordToken;
  if (location.hash !== "#" + key) history.replaceState(null, "", "#" + key);
  for (const row of $$("#results [data-key]")) row.classList.toggle("on", row.dataset.key === key);
  if (changed) {
    $("#record").innerHTML = `<div class="muted">loading ${esc(key)}…</div>`;
    if (!$("#follow-record").value || $("#follow-record").dataset.auto) {
      $("#follow-record").value = key;
      $("#follow-record").dataset.auto = "1";
      loadFollowCodes();
    }
  }
  if (!options.keepNetwork) checkNetwork(key);
  else state.nodes.forEach((node, index) => renderNode(index));
  let record, timeline, links;
  try {
    [record, timeline, links] = await Promise.all([
      get(`/records/${key}`), get(`/records/${key}/events`),
      get(`/records/${key}/links`).catch(() => ({ items: [] })),
    ]);
  } catch (error) {
    if (token === state.recordToken) $("#record").innerHTML = `<div class="card">${esc(key)}: ${esc(error.message)}</div>`;
    return;
  }
  let verdicts = {};
  let summary = `<div class="summary"><span class="badge checking">checking</span> against the chain…</div>`;
  let differences = [];
  let linkChecks = [];
  try {
    const check = await get(`/records/${key}/verify`);
    linkChecks = check.link_checks || [];
    for (const e of check.events) if (e.seq !== null) verdicts[e.seq] = e;
    if (check.ok) {
      summary = `<div class="summary"><span class="badge verified">verified</span> every event matches the chain (${check.head_seq} anchored)</div>`;
    } else {
      try { differences = (await get(`/records/${key}/differences`)).differences; } catch (_) { differences = []; }
      const words = differences.length ? [...new Set(differences.map((d) => d.sentence))].join("; ") : "stored data differs from the chain";
      summary = `<div class="summary bad"><span class="badge tampered">does NOT match the chain</span> this node serves ${esc(words)} — the chain still holds the original</div>`;
    }
  } catch (error) {
    summary = `<div class="summary"><span class="badge missing">not checked</span> ${esc(error.message)}</div>`;
  }
  if (token !== state.recordToken) return;
  const data = record.data || {};
  const facts = [
    ["status", record.status], ["holder", holderOf(data)], ["filed", record.filing_date],
    ["registered", record.registration_date], ["expires", record.expiry_date], ["ST.13", record.st13],
    ["Nice", (record.nice_classes || []).join(", ")], ["Locarno", (record.locarno_classes || []).join(", ")],
  ].filter(([, v]) => v).map(([k, v]) => `${k} <b>${esc(v)}</b>`).join(" · ");
  const chips = links.items.map((l) => {
    const other = l.record_key || l.external_number || "";
    const label = `${LINK_LABELS(l.relation, l.direction)} ${other}${l.mark_text ? " " + l.mark_text : ""}`;
    // An outgoing link's check against the chain (GET …/verify): ✓ verified, ? unverifiable,
    // ✗ and the failed check otherwise.
    const checked = l.direction === "outgoing"
      ? linkChecks.find((c) => c.record_key === l.record_key && c.relation === l.relation) : null;
    const result = checked ? checked.result : "";
    const kind = !checked ? "" : result === "link-verified" ? "link-ok" : result === "link-unverifiable" ? "link-unknown" : "link-fail";
    const mark = !checked ? "" : kind === "link-ok" ? " ✓" : kind === "link-unknown" ? " ?" : ` ✗ ${result.replace("link-", "").replace(/-/g, " ")}`;
    const reason = checked ? " · " + checked.reason : "";
    return `<button type="button" class="chip ${esc(l.direction)} ${kind}" data-key="${esc(l.record_key || "")}" data-result="${esc(result)}" title="${esc(l.relation)}${l.link_date ? " · " + esc(l.link_date) : ""}${l.holder ? " · " + esc(l.holder) : ""}${esc(reason)}">${l.direction === "outgoing" ? "→" : "←"} ${esc(label)}${esc(mark)}</button>`;
  }).join("");
  const byEvent = {};
  for (const d of differences) (byEvent[d.where] = byEvent[d.where] || []).push(d.sentence);
  $("#record").innerHTML = `
    <div class="card">
      <div class="record-head"><span class="mark">${esc(record.mark_text || record.record_key)}</span>
        <span class="muted">${esc(record.record_key)}</span>
        <a href="${API}/records/${esc(key)}/proof" class="muted">proof bundle</a></div>
      <div class="facts">${facts}</div>
      ${chips ? `<div class="chips" id="links">${chips}</div>` : `<div class="muted" id="links">no links to other records</div>`}
      ${summary}
    </div>
    <div class="timeline">${timeline.items.map((e) => {
      const v = verdicts[e.seq];
      const verdict = v ? v.verdict : "not-checked";
      const doc = e.document || {};
      const parties = holderOf(doc.record_data);
      const role = e.seq === 1 ? "applicant" : "holder";
      const problems = Object.entries(byEvent).filter(([where]) => where.startsWith(`event ${e.seq} `)).flatMap(([, s]) => s);
      return `<div class="event ${verdict === "verified" ? "ok" : v ? "bad" : ""}" data-seq="${e.seq}">
        <div class="what"><span class="badge ${esc(verdict)}">${esc(verdict.replace("-", " "))}</span> <b>${esc(e.event_code)}</b> ${esc(e.event_name || "")}</div>
        <div class="muted">${esc(e.event_date || "")} · ${esc(e.office)} · anchored ${esc(time(e.anchored_at))}${doc.national_text ? " · " + esc(doc.national_text) : ""}</div>
        ${parties ? `<div class="party">${role}: <b>${esc(parties)}</b></div>` : ""}
        ${problems.map((s) => `<div class="problem">${esc(s)}</div>`).join("")}
        ${v && v.verdict !== "verified" && !problems.length ? `<div class="problem">${esc(v.detail)}</div>` : ""}
        <div class="hash mono">entry ${esc(e.entry_hash)}<br>previous ${esc(e.prev_entry_hash)}<br>document ${esc(e.document_hash)}<br>block ${e.block_number} · tx ${esc(e.transaction_hash)}</div>
      </div>`;
    }).join("")}</div>`;
  for (const chip of $$(".chip[data-key]", $("#record"))) if (chip.dataset.key) chip.onclick = () => showRecord(chip.dataset.key);
}

// --- governance ---------------------------------------------------------------------------

function proposalTitle(p) {
  let subject = p.office || p.account || "";
  if (!subject && p.name) {
    try { subject = JSON.parse(p.name).schema || p.name; } catch (_) { subject = p.name; }
  }
  if (!subject && p.action === "change-threshold") subject = `to ${p.value / 100}%`;
  return `#${p.proposal_id} ${p.action}${subject ? " " + subject : ""}`;
}

async function loadGovernance() {
  try {
    const { items } = await get("/offices");
    const details = await Promise.all(items.map((o) => get(`/offices/${o.code}`).catch(() => o)));
    $("#gov-offices").innerHTML = details.map((o) => {
      const history = (o.status_history || []).map((h) => `${h.change} at block ${h.block_number}${h.proposal_id !== null && h.proposal_id !== undefined ? ` (proposal #${h.proposal_id})` : ""}`).join(" → ");
      return `<div class="office-row" data-office="${esc(o.code)}"><b>${esc(o.code)}</b> <span class="badge ${esc(o.status)}">${esc(o.status)}</span>
        <span class="muted">${esc(o.name)}</span><div class="history">${esc(history || "no status change indexed")}</div></div>`;
    }).join("");
    const select = $("#office");
    if (select.options.length === 1) for (const o of items) select.add(new Option(o.code, o.code));
    const proposals = await get("/proposals?limit=10");
    const open = proposals.items.filter((p) => p.state === "open");
    const rest = proposals.items.filter((p) => p.state !== "open");
    $("#gov-proposals").innerHTML = [...open, ...rest].map((p) => {
      const before = state.proposals.get(p.proposal_id);
      const voters = p.voters.map((v) => `<span class="voter${before && !before.includes(v) ? " arrived" : ""}">${esc(v)}</span>`).join("");
      const vote = p.state === "open" ? ` <button type="button" class="vote" data-id="${p.proposal_id}">vote with the pasted token</button>` : "";
      const outcome = p.executed_block ? ` · executed at block ${p.executed_block}` : p.state === "open" ? ` · open until ${esc(time(p.deadline))}` : "";
      return `<div class="proposal" data-id="${p.proposal_id}" data-state="${esc(p.state)}"><div class="title"><span class="badge ${esc(p.state)}">${esc(p.state)}</span> <b>${esc(proposalTitle(p))}</b> <span class="muted">by ${esc(p.proposer)}</span></div>
        <div class="votes">${p.votes} vote${p.votes === 1 ? "" : "s"}: ${voters} · threshold ${p.threshold_bps / 100}%${outcome}${vote}</div></div>`;
    }).join("") || `<div class="muted">no proposals yet</div>`;
    for (const p of proposals.items) state.proposals.set(p.proposal_id, p.voters.slice());
    for (const button of $$(".vote", $("#gov-proposals"))) button.onclick = () => vote(button);
  } catch (error) {
    $("#gov-offices").innerHTML = `<div class="status bad">${esc(error.message)}</div>`;
  }
}

async function vote(button) {
  const token = $("#token").value.trim();
  if (!token) { button.textContent = "paste a token in File first"; return; }
  button.disabled = true;
  try {
    await request(`${API}/proposals/${button.dataset.id}/votes`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    button.textContent = "voted — the vote arrives when the node indexes it";
  } catch (error) {
    button.textContent = error.message;
  }
}

// --- the presenter's submit form ----------------------------------------------------------

function fillSubmitNodes() {
  const select = $("#submit-node");
  const chosen = select.value;
  select.innerHTML = state.nodes.map((n, i) => `<option value="${i}">${esc(nodeLabel(n))} node (${esc(n.url.replace(/^https?:\/\//, ""))})</option>`).join("");
  if (chosen) select.value = chosen;
  fillSubmitOffices();
}

function fillSubmitOffices() {
  const node = state.nodes[Number($("#submit-node").value || 0)];
  const select = $("#submit-office");
  const chosen = select.value;
  const offices = node && node.offices && node.offices.length ? node.offices : [node ? node.office : "EM"];
  select.innerHTML = offices.map((o) => `<option>${esc(o)}</option>`).join("");
  if (offices.includes(chosen)) select.value = chosen;
  else if (node && offices.includes(node.office)) select.value = node.office;
}

async function loadFollowCodes() {
  const key = $("#follow-record").value.trim();
  const select = $("#follow-code");
  if (!key) { select.innerHTML = ""; return; }
  try {
    const codes = await get(`/event-codes?record=${encodeURIComponent(key)}`);
    select.innerHTML = codes.items.map((c) => `<option value="${esc(c.code)}">${esc(c.code)} ${esc(c.name)}</option>`).join("");
  } catch (error) {
    select.innerHTML = `<option value="">${esc(error.message)}</option>`;
  }
}

async function buildFiling(office) {
  const number = String(Math.floor(100000000 + Math.random() * 899999999));
  const date = today();
  const niceClass = Number($("#nice").value);
  const document = {
    schema: "ipchain/register-event/v1",
    record_key: `${office}/TM/${number}`,
    event_code: "A10",
    event_date: date,
    national_text: "Application received",
    record_data: {
      mark_verbal_element_text: $("#mark").value.trim(),
      mark_feature_category: "Word",
      nice_classes: [{ class_number: niceClass, descriptions: [{ language_code: "en", text: NICE[niceClass] }], nice_edition: "12-2025" }],
      applicants: [{ name: $("#applicant").value.trim(), country_code: $("#country").value.trim().toUpperCase() }],
      application_date: date,
    },
  };
  const priority = $("#priority").value.trim();
  if (priority) {
    const source = await get(`/records/${priority}`);
    document.links = [{ relation: "priority", record_key: source.record_key, link_date: source.filing_date }];
  }
  return document;
}

async function submit(event) {
  event.preventDefault();
  const status = $("#submit-status");
  const node = state.nodes[Number($("#submit-node").value || 0)];
  const office = $("#submit-office").value;
  const token = $("#token").value.trim();
  status.className = "status";
  if (!token) { status.className = "status bad"; status.textContent = "Paste an API token of the office first."; return; }
  let document;
  try {
    if ($("input[name=kind]:checked").value === "filing") {
      document = await buildFiling(office);
    } else {
      document = { schema: "ipchain/register-event/v1", record_key: $("#follow-record").value.trim(), event_code: $("#follow-code").value, event_date: today() };
    }
  } catch (error) {
    status.className = "status bad"; status.textContent = error.message; return;
  }
  const started = performance.now();
  $("#submit-button").disabled = true;
  try {
    const reply = await request(`${node.api}/offices/${office}/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": randomKey() },
      body: JSON.stringify(document),
    });
    state.pending.set(document.record_key, { key: document.record_key, code: document.event_code, started, accepted: performance.now(), seen: {}, id: reply.id });
    status.textContent = `Accepted by the ${nodeLabel(node)} node (submission ${reply.id}); anchoring — it will appear in every node's feed.`;
    if (document.event_code === "A10") { $("#follow-record").value = document.record_key; $("#follow-record").dataset.auto = ""; }
  } catch (error) {
    status.className = "status bad";
    status.textContent = `Refused: ${error.message}${error.body && error.body.field ? ` (${error.body.field})` : ""}`;
  } finally {
    $("#submit-button").disabled = false;
  }
}

function notePending(pending, item, index, now) {
  if (item.event_code !== pending.code || index in pending.seen) return;
  pending.seen[index] = now;
  const parts = Object.entries(pending.seen).map(([i, t]) => `${state.nodes[i].office} ${((t - pending.started) / 1000).toFixed(1)} s`);
  const status = $("#submit-status");
  status.className = "status ok";
  status.textContent = `${item.record_key} ${item.event_name || item.event_code} is in the feed of ${parts.length} of ${state.nodes.length} node${state.nodes.length > 1 ? "s" : ""}: ${parts.join(", ")} after submitting.`;
  if (Object.keys(pending.seen).length === state.nodes.length) {
    state.pending.delete(pending.key);
    if (item.event_code === "A10") loadFollowCodes();
  }
}

// --- wiring ---------------------------------------------------------------------------------

function bindUi() {
  $("#search").onsubmit = search;
  $("#submit-form").onsubmit = submit;
  $("#submit-node").onchange = fillSubmitOffices;
  $("#follow-record").onchange = () => { $("#follow-record").dataset.auto = ""; loadFollowCodes(); };
  $("#nice").innerHTML = Object.entries(NICE).map(([n, text]) => `<option value="${n}">${n} — ${esc(text)}</option>`).join("");
  for (const radio of $$("input[name=kind]")) {
    radio.onchange = () => {
      const filing = $("input[name=kind]:checked").value === "filing";
      $("#filing-fields").hidden = !filing;
      $("#follow-fields").hidden = filing;
    };
  }
  for (const tab of $$(".tabs button")) {
    tab.onclick = () => {
      for (const other of $$(".tabs button")) other.classList.toggle("on", other === tab);
      for (const panel of $$(".tab")) panel.classList.toggle("on", panel.id === "tab-" + tab.dataset.tab);
      if (tab.dataset.tab === "governance") loadGovernance();
    };
  }
  const toggle = (button, name, stored) => {
    const apply = (on) => {
      document.body.classList.toggle(name, on);
      button.setAttribute("aria-pressed", String(on));
      try { localStorage.setItem(stored, on ? "1" : ""); } catch (_) { /* private mode */ }
    };
    button.onclick = () => apply(!document.body.classList.contains(name));
    let initial = false;
    try { initial = localStorage.getItem(stored) === "1"; } catch (_) { initial = false; }
    if (new URLSearchParams(location.search).get(name) === "1") initial = true;
    apply(initial);
  };
  window.addEventListener("hashchange", () => {
    const key = decodeURIComponent(location.hash.slice(1));
    if (key && key !== state.selected) showRecord(key);
  });
  toggle($("#toggle-presenter"), "presenter", "ipchain-presenter");
  toggle($("#toggle-hashes"), "show-hashes", "ipchain-hashes");
}

async function start() {
  bindUi();
  try {
    await loadNetwork();
  } catch (error) {
    $("#chain").textContent = "node unreachable: " + error.message;
  }
  loadGovernance();
  const example = await choosePlaceholder();
  const items = await search();
  const fromHash = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null;
  const first = fromHash || example || (items.length ? items[0].record_key : null);
  if (first) showRecord(first);
}

start();
