// The gallery's model: runs decoded from data.js, the filter controls, filtering with counts,
// sorting, and the view's state in the page's address (hash), so a view can be shared.
"use strict";

(function (G) {
  const DATA_FORMAT = 1;
  G.MAX_COMPARE = 4;

  // Each run as {i, key, content, style, run_id, v: {field: value}, trials, status, text}.
  G.loadModel = function (data) {
    if (!data || data.format !== DATA_FORMAT) {
      throw new Error("data.js is missing or of another format (" + (data && data.format) + "); rebuild the gallery");
    }
    const fields = data.fields;
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    const runs = [];
    for (let i = 0; i < data.count; i++) runs.push({ i: i, v: {} });
    for (const f of fields) {
      const col = data.columns[f.name];
      for (let i = 0; i < data.count; i++) {
        runs[i].v[f.name] = col.numbers ? col.numbers[i] : col.values[col.codes ? col.codes[i] : 0];
      }
    }
    const varied = fields.filter((f) => f.group === "param" && f.varies);
    for (const run of runs) {
      run.content = run.v.content;
      run.style = run.v.style;
      run.run_id = run.v.run_id;
      run.key = run.content + "/" + run.style + "/" + run.run_id;
      run.trials = data.trials[run.i].map(([e, label, selected, stopped]) => ({
        experiment: data.experiments[e], label: label, selected: selected, stopped: stopped,
      }));
      run.status = runStatus(run);
      run.text = [run.key, ...run.trials.map((t) => t.experiment.name + " " + t.label),
        ...varied.map((f) => f.label + "=" + G.fmtValue(run.v[f.name])), ...run.status].join(" ").toLowerCase();
    }
    const numbers = fields.filter((f) => f.type === "number");
    return {
      data: data, fields: fields, field: byName, runs: runs, varied: varied, numbers: numbers,
      byKey: new Map(runs.map((r) => [r.key, r])), controls: controls(data, runs, varied),
    };
  };

  // A run's status words: its own (ok, diverged, ...), then stopped / selected from its trials.
  function runStatus(run) {
    const words = [String(run.v.status || "unknown")];
    if (run.trials.some((t) => t.stopped !== null && t.stopped !== undefined)) words.push("stopped");
    if (run.trials.some((t) => t.selected === 1)) words.push("selected");
    return words;
  }

  G.marks = function (run) {
    const marks = [];
    for (const t of run.trials) {
      if (t.selected === 1 && !marks.some((m) => m.word === "SELECTED")) marks.push({ word: "SELECTED", cls: "selected" });
      if (t.stopped !== null && t.stopped !== undefined) marks.push({ word: "STOPPED @" + t.stopped, cls: "stopped" });
    }
    if (run.v.status !== "ok") marks.unshift({ word: String(run.v.status || "unknown").toUpperCase(), cls: "diverged" });
    return marks;
  };

  // One control per parameter that varies, plus content, style, experiment and status.
  function controls(data, runs, varied) {
    const list = [
      { id: "content", label: "content", of: (r) => [r.content] },
      { id: "style", label: "style", of: (r) => [r.style] },
      { id: "experiment", label: "experiment", of: (r) => [...new Set(r.trials.map((t) => t.experiment.name))],
        order: data.experiments.map((e) => e.name) },
      { id: "status", label: "status", of: (r) => r.status },
      ...varied.map((f) => ({ id: f.name, label: f.label, of: (r) => [G.valueKey(r.v[f.name])], field: f })),
    ];
    for (const c of list) {
      const seen = new Map();
      for (const r of runs) for (const k of c.of(r)) if (!seen.has(k)) seen.set(k, k);
      c.values = orderValues([...seen.keys()], c);
    }
    return list;
  }

  function orderValues(keys, control) {
    if (control.order) return control.order.filter((k) => keys.includes(k));
    const numeric = keys.every((k) => k !== "" && !Number.isNaN(Number(k)));
    return numeric ? keys.sort((a, b) => Number(a) - Number(b)) : keys.sort();
  }

  G.emptyState = function () {
    return { filters: {}, q: "", sort: "", dir: "asc", sel: [], open: null, view: "grid" };
  };

  function matchesText(state, run) {
    if (!state.q) return true;
    return state.q.toLowerCase().split(/\s+/).every((word) => !word || run.text.includes(word));
  }

  // The controls whose ticked values `run` has none of.
  function failing(model, state, run) {
    const out = [];
    for (const c of model.controls) {
      const ticked = state.filters[c.id];
      if (ticked && ticked.size && !c.of(run).some((k) => ticked.has(k))) out.push(c);
    }
    return out;
  }

  G.filterRuns = function (model, state) {
    return model.runs.filter((r) => matchesText(state, r) && failing(model, state, r).length === 0);
  };

  // Per control, {value: runs that pass the search and every other control, and have the
  // value}: a run counts for control c when c is the only one it fails, or none.
  G.facetCounts = function (model, state) {
    const counts = {};
    for (const c of model.controls) counts[c.id] = Object.fromEntries(c.values.map((k) => [k, 0]));
    for (const r of model.runs) {
      if (!matchesText(state, r)) continue;
      const fails = failing(model, state, r);
      if (fails.length > 1) continue;
      for (const c of fails.length ? fails : model.controls) for (const k of c.of(r)) counts[c.id][k] += 1;
    }
    return counts;
  };

  // Runs ordered by a numeric field (missing values last), else in the plan's order.
  G.sortRuns = function (runs, field, dir) {
    if (!field) return runs.slice();
    const sign = dir === "desc" ? -1 : 1;
    return runs.slice().sort((a, b) => {
      const x = a.v[field], y = b.v[field];
      const xm = x === null || x === undefined, ym = y === null || y === undefined;
      if (xm || ym) return xm === ym ? a.i - b.i : (xm ? 1 : -1);
      return x === y ? a.i - b.i : sign * (x - y);
    });
  };

  // --- the address: #q=..&sort=..&dir=..&f=control:value&sel=key&open=key&view=compare ---
  G.stateToHash = function (state) {
    const p = new URLSearchParams();
    if (state.q) p.set("q", state.q);
    if (state.sort) { p.set("sort", state.sort); p.set("dir", state.dir); }
    for (const [id, set] of Object.entries(state.filters)) for (const k of set) p.append("f", id + ":" + k);
    for (const key of state.sel) p.append("sel", key);
    if (state.open) p.set("open", state.open);
    if (state.view === "compare") p.set("view", "compare");
    return p.toString();
  };

  G.stateFromHash = function (hash, model) {
    const state = G.emptyState();
    const p = new URLSearchParams(hash.replace(/^#/, ""));
    state.q = p.get("q") || "";
    const sort = p.get("sort");
    if (sort && model.field[sort] && model.field[sort].type === "number") state.sort = sort;
    state.dir = p.get("dir") === "desc" ? "desc" : "asc";
    const ids = new Set(model.controls.map((c) => c.id));
    for (const item of p.getAll("f")) {
      const cut = item.indexOf(":");
      const id = item.slice(0, cut), value = item.slice(cut + 1);
      if (cut < 0 || !ids.has(id)) continue;
      (state.filters[id] = state.filters[id] || new Set()).add(value);
    }
    state.sel = p.getAll("sel").filter((k) => model.byKey.has(k)).slice(0, G.MAX_COMPARE);
    const open = p.get("open");
    state.open = open && model.byKey.has(open) ? open : null;
    state.view = p.get("view") === "compare" && state.sel.length >= 2 ? "compare" : "grid";
    return state;
  };
})(window.NSTG);
