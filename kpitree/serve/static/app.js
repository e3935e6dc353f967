// kpitree explorer page. It only calls this server's JSON API (/api/schema documents it) and
// only shows figures the API formatted: no maths and no number formatting happen here.
// Data is always written with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  meta: null, base: null, compare: null, method: "shapley",
  drills: new Map(),   // node key ("" for the root, "tier=pro|region=EU") -> drill document
  open: null,          // key of the row whose split menu is open
  focus: "",           // key of the row last split (what the review pack exports)
  levers: new Map(),   // lever key -> change text, in the order added
  leverList: null, scenario: null, goal: null, whatifTimer: null,
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, params, body) {
  const query = new URLSearchParams();
  for (const [name, value] of params || []) query.append(name, value);
  const url = `/api/${path}${query.toString() ? "?" + query : ""}`;
  const options = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) {
    showError(data.message || data.error);
    throw new Error(data.error);
  }
  showError("");
  return data;
}

const keyOf = (where) => where.map(([d, v]) => `${d}=${v}`).join("|");
const periods = () => [["base", state.base], ["compare", state.compare], ["method", state.method]];

// --- the drill-down tree ----------------------------------------------------------------------

async function drill(where, by) {
  const params = [...periods(), ...where.map(([d, v]) => ["where", `${d}=${v}`])];
  if (by) params.push(["by", by]);
  const doc = await api("drill", params);
  state.drills.set(keyOf(where), doc);
  state.focus = keyOf(where);
  state.open = null;
  renderTree();
}

function scaleOf() {
  let largest = Math.abs(state.drills.get("")?.node.contribution || 0);
  for (const doc of state.drills.values()) {
    for (const child of doc.children) largest = Math.max(largest, Math.abs(child.total.contribution));
  }
  return largest || 1;
}

function bar(value, text, scale) {
  const width = `${Math.min(100, (100 * Math.abs(value)) / scale).toFixed(1)}%`;
  const fill = el("i");
  fill.style.width = width;
  return el("span", { class: "bar" },
    el("span", { class: "neg" }, value < 0 ? fill : null),
    el("span", { class: "pos" }, value >= 0 ? fill : null),
    el("span", { class: "num" }, text));
}

function splitMenu(where) {
  const used = new Set(where.map(([d]) => d));
  const menu = el("div", { class: "menu" }, "Split by ");
  for (const dim of state.meta.dimensions.filter((d) => !used.has(d))) {
    menu.append(el("button", { type: "button", "data-split": dim,
      onclick: (e) => { e.stopPropagation(); drill(where, dim).catch(() => {}); } }, dim));
  }
  if (used.size < state.meta.dimensions.length) {
    menu.append(el("button", { type: "button", "data-split": "auto",
      onclick: (e) => { e.stopPropagation(); drill(where, "auto").catch(() => {}); } },
      "Biggest mover"));
  } else {
    menu.append("every dimension is used on this path");
  }
  if (state.drills.has(keyOf(where))) {
    menu.append(el("button", { type: "button", onclick: (e) => {
      e.stopPropagation(); collapse(where); } }, "Collapse"));
  }
  return menu;
}

function collapse(where) {
  const prefix = keyOf(where);
  for (const key of [...state.drills.keys()]) {
    if (key === prefix || key.startsWith(prefix ? prefix + "|" : "")) state.drills.delete(key);
  }
  if (!prefix) state.drills.clear();
  state.open = null;
  renderTree();
}

function nodeRow(where, cells, depth, contribution, text, drillable, mark) {
  const key = keyOf(where);
  const row = el("div", {
    class: `row node${state.focus === key ? " selected" : ""}${drillable ? "" : " fixed"}`,
    role: "treeitem", tabindex: "0", "data-where": key,
    "data-contribution": String(contribution),
  });
  const name = el("span", { class: "name" });
  name.style.paddingLeft = `${depth * 22}px`;
  name.append(state.drills.has(key) ? "▾ " : drillable ? "▸ " : "• ", ...cells.name);
  if (mark) name.append(el("span", { class: "badge" }, mark));
  row.append(name,
    el("span", { class: "num" }, cells.share), el("span", { class: "num" }, cells.value),
    el("span", { class: "num" }, ...[cells.mix].flat()), el("span", { class: "num" }, cells.rate),
    bar(contribution, text, scaleOf()));
  if (drillable) {
    const toggle = () => { state.open = state.open === key ? null : key; renderTree(); };
    row.addEventListener("click", toggle);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
  }
  return row;
}

function renderChildren(where, depth, out) {
  const doc = state.drills.get(keyOf(where));
  if (!doc) return;
  const how = doc.chosen === "biggest mover" ? " (biggest mover)" : "";
  const n = doc.node.text;
  out.append(el("div", { class: "drivers", "data-split-of": keyOf(where) },
    `${"\u00a0".repeat(depth * 4)}by ${doc.by}${how}: children add up to ${n.rate} = ` +
    `${doc.by} mix ${n.split_mix} + rate within ${n.split_rate}`));
  for (const child of doc.children) {
    const at = [...where, [doc.by, child.value]];
    const t = child.text;
    // Split further, a row reads as `explain --by` reads it with one more dimension: its own
    // mix and the inner mix of that dimension, then the rate within the finer segments.
    const inner = state.drills.get(keyOf(at));
    out.append(nodeRow(at, {
      name: [child.value],
      share: `${t.base_share} → ${t.compare_share}`,
      value: `${t.base_value} → ${t.compare_value}`,
      mix: inner ? [t.mix, el("br"), el("small", { class: "inner" },
        `${inner.by} ${inner.node.text.split_mix}`)] : [t.mix],
      rate: inner ? inner.node.text.split_rate : t.rate,
    }, depth, child.total.contribution, t.contribution, child.drillable, child.mark));
    if (state.open === keyOf(at)) out.append(splitMenu(at));
    const moved = child.drivers.filter((d) => d.value !== 0);
    if (moved.length && !state.drills.has(keyOf(at))) {
      const top = moved.slice(0, 3).map((d) => `${d.label} ${d.text}`).join(" · ");
      out.append(el("div", { class: "drivers" },
        `${"\u00a0".repeat(depth * 4)}rate by driver: ${top}`));
    }
    renderChildren(at, depth + 1, out);
  }
}

function renderTree() {
  const root = state.drills.get("");
  const out = document.createDocumentFragment();
  if (root) {
    const n = root.node.text;
    $("headline").textContent = `${state.meta.metric_label} ${n.base_value} → ` +
      `${n.compare_value}, ${n.delta} (${n.pct}), ${state.base} → ${state.compare}`;
    out.append(nodeRow([], {
      name: [`${state.meta.metric_label} (all)`], share: "100 %",
      value: `${n.base_value} → ${n.compare_value}`, mix: n.split_mix, rate: n.split_rate,
    }, 0, root.node.contribution, n.contribution, true, ""));
    if (state.open === "") out.append(splitMenu([]));
    renderChildren([], 1, out);
  }
  $("tree").replaceChildren(out);
}

async function reload() {
  const splits = [...state.drills.entries()].map(([k, d]) => [d.where.map((w) => [w.dim, w.value]), d.by]);
  state.drills.clear();
  if (!splits.length) splits.push([[], state.meta.segments[0] || "auto"]);
  const failed = [];
  for (const [where, by] of splits) {
    try { await drill(where, by); } catch (err) { failed.push(err.message); }
  }
  renderTree();
  if (failed.length) {
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more split not redone)` : "";
    showError(`kpitree: error: ${failed[0]}${more}`);
  }
}

// --- what-if --------------------------------------------------------------------------------

async function loadLevers() {
  state.leverList = await api("levers", [["period", $("whatif-period").value]]);
  const segments = new Map([["", "all segments"]]);
  for (const lever of state.leverList.levers) {
    const name = Object.entries(lever.segment).map(([d, v]) => `${d}=${v}`).join(", ");
    if (name) segments.set(name, name);
  }
  const select = $("lever-segment");
  const chosen = select.value;
  select.replaceChildren(...[...segments].map(([v, t]) => el("option", { value: v }, t)));
  if (segments.has(chosen)) select.value = chosen;
  renderSliders();
}

function renderSliders() {
  const chosen = $("lever-segment").value;
  const here = state.leverList.levers.filter((lever) =>
    Object.entries(lever.segment).map(([d, v]) => `${d}=${v}`).join(", ") === chosen);
  const sliders = [];
  for (const lever of here) {
    if (lever.fixed || lever.slider_max === null) continue;
    const input = el("input", { type: "range", min: String(lever.min),
      max: String(lever.slider_max), step: String((lever.slider_max - lever.min) / 400),
      value: String(lever.current), "data-lever": lever.key, "aria-label": lever.key });
    input.addEventListener("input", () => {
      state.levers.set(lever.key, `=${input.value}`);
      scheduleWhatif();
    });
    sliders.push(el("div", { class: "slider" },
      el("span", {}, `${lever.label}`),
      el("span", { class: "num", "data-readout": lever.key }, lever.text), input));
  }
  $("sliders").replaceChildren(...sliders);
  $("goal-lever").replaceChildren(...here.filter((l) => !l.fixed).map((l) =>
    el("option", { value: l.key }, l.key)));
}

function scheduleWhatif() {
  clearTimeout(state.whatifTimer);
  state.whatifTimer = setTimeout(() => runWhatif().catch(() => {}), 120);
}

async function runWhatif() {
  renderLeverList();
  if (!state.levers.size) { state.scenario = null; $("scenario").replaceChildren(); return; }
  const levers = [...state.levers].map(([key, value]) => ({ key, value }));
  const doc = await api("whatif", [], { period: $("whatif-period").value, levers,
    method: state.method });
  state.scenario = doc;
  const t = doc.text;
  const scale = Math.max(...doc.bridge.map((s) => Math.abs(s.delta)), 1e-12);
  $("scenario").replaceChildren(
    el("p", { class: "result", "data-value": String(doc.value) },
      `${state.meta.metric_label} ${t.actual} → `, el("strong", {}, t.value),
      ` ${t.delta} (${t.pct})`),
    el("div", { class: "bridge" }, ...doc.bridge.map((step) => el("div", { class: "step" },
      el("span", { class: "label" }, step.text.label), bar(step.delta, step.text.delta, scale),
      el("span", { class: "num" }, step.text.value)))));
  renderLeverList();
  for (const step of doc.bridge) {
    const readout = document.querySelector(`[data-readout="${CSS.escape(step.lever)}"]`);
    if (readout && step.text.after) readout.textContent = step.text.after;
    const slider = document.querySelector(`input[data-lever="${CSS.escape(step.lever)}"]`);
    if (slider && step.after !== null && document.activeElement !== slider) {
      slider.value = String(step.after);
    }
  }
}

function renderLeverList() {
  const shown = new Map((state.scenario?.bridge || []).map((s) => [s.lever, s.text.label]));
  $("lever-list").replaceChildren(...[...state.levers].map(([key, value]) =>
    el("li", {}, el("span", {}, shown.get(key) || `${key} ${value}`), el("button", {
      type: "button",
      "aria-label": `remove ${key}`, onclick: () => { state.levers.delete(key); scheduleWhatif(); } },
    "×"))));
}

async function seekGoal(event) {
  event.preventDefault();
  const lever = $("goal-lever").value;
  const doc = await api("goal", [], { period: $("whatif-period").value, lever,
    target: $("goal-target").value, method: state.method });
  state.goal = doc;
  const use = el("button", { type: "button", id: "goal-apply", onclick: () => {
    state.levers.clear();
    state.levers.set(lever, `=${doc.value}`);
    runWhatif().catch(() => {});
  } }, "Try it");
  $("goal-result").replaceChildren(el("p", { class: "result", "data-value": String(doc.value) },
    `${lever} = `, el("strong", {}, doc.text.value),
    ` (now ${doc.text.current}, ${doc.text.change}) reaches ${doc.text.target} `, use));
}

// --- periods, trend, export ---------------------------------------------------------------

async function loadTrend() {
  const doc = await api("trend", [["method", state.method]]);
  const steps = doc.values.filter((row) => row.delta !== null);
  const scale = Math.max(...steps.map((row) => Math.abs(row.delta)), 1e-12);
  const rows = steps.map((row) => {
    const tr = el("tr", { "data-period": row.period },
      el("td", {}, row.period), el("td", {}, row.text.value),
      el("td", { class: "trend-bar" }, bar(row.delta, row.text.delta, scale)),
      el("td", {}, row.text.mix), el("td", {}, row.text.rate));
    tr.addEventListener("click", () => {
      const at = doc.periods.indexOf(row.period);
      setPeriods(doc.periods[at - 1], row.period);
    });
    return tr;
  });
  $("trend-table").replaceChildren(
    el("p", { class: "hint" }, `Chained ${doc.periods[0]} → ${doc.periods.at(-1)}: ` +
      `${doc.text.delta} = mix ${doc.text.chained_mix} + rate ${doc.text.chained_rate}. ` +
      "Click a month to explain it."),
    el("table", {}, el("thead", {}, el("tr", {}, ...["month", "value", "change", "mix", "rate"]
      .map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)));
}

function setPeriods(base, compare) {
  state.base = base; state.compare = compare;
  $("base").value = base; $("compare").value = compare;
  reload();
}

function download(name, blob) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

function exportJson() {
  const view = {
    tree: state.meta.tree, base: state.base, compare: state.compare, method: state.method,
    drills: [...state.drills.values()], scenario: state.scenario, goal: state.goal,
  };
  download(`${state.meta.tree}_${state.base}_${state.compare}_view.json`,
    new Blob([JSON.stringify(view, null, 2)], { type: "application/json" }));
}

function exportPack(format) {
  // The whole change split by the dimensions on the path to the row last split, then its
  // own split (tier, then region): the pack tells the same numbers as the page.
  const doc = state.drills.get(state.focus);
  const params = [...periods(), ["format", format]];
  const by = doc ? [...doc.where.map((w) => w.dim), doc.by] : state.meta.segments;
  for (const dim of by) params.push(["by", dim]);
  if (state.levers.size) {
    params.push(["period", $("whatif-period").value]);
    params.push(["levers", JSON.stringify([...state.levers].map(([key, value]) => ({ key, value })))]);
  }
  const link = el("a", { href: `/api/export?${new URLSearchParams(params)}`, download: "" });
  document.body.append(link);
  link.click();
  link.remove();
}

async function start() {
  const meta = await api("meta");
  state.meta = meta;
  const query = new URLSearchParams(location.search);
  state.base = query.get("base") || meta.base;
  state.compare = query.get("compare") || meta.compare;
  state.method = query.get("method") || "shapley";
  document.title = `${meta.title} — kpitree explorer`;
  $("title").textContent = meta.title;
  for (const id of ["base", "compare", "whatif-period"]) {
    $(id).replaceChildren(...meta.periods.map((p) => el("option", { value: p }, p)));
  }
  $("method").replaceChildren(...meta.methods.map((m) => el("option", { value: m }, m)));
  $("base").value = state.base; $("compare").value = state.compare;
  $("method").value = state.method; $("whatif-period").value = state.compare;
  $("export-pptx").hidden = !meta.exports.includes("pptx");
  $("base").addEventListener("change", () => setPeriods($("base").value, state.compare));
  $("compare").addEventListener("change", () => setPeriods(state.base, $("compare").value));
  $("method").addEventListener("change", () => { state.method = $("method").value; reload(); });
  $("whatif-period").addEventListener("change", () => { state.levers.clear();
    loadLevers().then(runWhatif).catch(() => {}); });
  $("lever-segment").addEventListener("change", renderSliders);
  $("lever-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.levers.set($("lever-key").value.trim(), $("lever-value").value.trim());
    runWhatif().catch(() => { state.levers.delete($("lever-key").value.trim()); renderLeverList(); });
  });
  $("goal-form").addEventListener("submit", (e) => seekGoal(e).catch(() => {}));
  $("trend-load").addEventListener("click", () => loadTrend().catch(() => {}));
  $("export-json").addEventListener("click", exportJson);
  $("export-html").addEventListener("click", () => exportPack("html"));
  $("export-pptx").addEventListener("click", () => exportPack("pptx"));
  await drill([], meta.segments[0] || "auto");
  await loadLevers();
}

start().catch((err) => showError(`kpitree: error: ${err.message}`));
