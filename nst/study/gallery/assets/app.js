// The gallery page: wires the model (state.js), the filters, the grid, the detail and compare
// views, and keeps the view in the address (#...), so a reload or a shared link shows it again.
"use strict";

(function (G) {
  // Inside the report's zip Snakemake puts this page at data/raw/<id>/index.html, with this
  // folder and nothing else of results/: then the run folders (../runs/) are not there.
  G.isInReport = function (path) {
    return /\/data\/raw\/[0-9a-f]+\/index\.html$/.test(path);
  };

  class App {
    constructor(data) {
      this.model = G.loadModel(data);
      this.inReport = G.isInReport(location.pathname);
      this.state = G.stateFromHash(location.hash, this.model);
      this.header();
      this.filters = new G.Filters(this, document.getElementById("filters"));
      this.grid = new G.Grid(this, document.getElementById("grid"));
      this.detail = new G.Detail(this, document.getElementById("detail"));
      this.compare = new G.Compare(this, document.getElementById("compare"));
      this.overlay = null; // what is open: "detail:<key>" or "compare:<keys>"
      window.addEventListener("popstate", () => this.restore());
      window.addEventListener("hashchange", () => this.restore());
      document.addEventListener("keydown", (e) => this.key(e));
      this.update();
      G.readyAt = performance.now(); // the first render's end, for benchmarks/gallery.py
      document.body.dataset.ready = "true";
    }

    header() {
      const data = this.model.data;
      const banner = document.getElementById("banner");
      if (data.random_weights) {
        banner.textContent = data.random_note;
        banner.hidden = false;
      }
      document.getElementById("study").textContent = data.count + " runs in " + data.experiments.length +
        " experiment" + (data.experiments.length === 1 ? "" : "s") +
        (data.evaluators.length ? "; scored by " + data.evaluators.map((e) => e.text).join("; ") : "");
      let framed = false;
      try { framed = window.top !== window; } catch (err) { framed = true; }
      const own = document.getElementById("own-tab");
      own.hidden = !framed;
      const sort = document.getElementById("sort");
      sort.append(G.el("option", { value: "", text: "plan order" }));
      for (const [group, title] of [["loss", "own losses"], ["score", "evaluator scores"], ["eval", "run.json evaluation"], ["run", "run"]]) {
        const fields = this.model.numbers.filter((f) => f.group === group);
        if (fields.length) sort.append(G.el("optgroup", { label: title }, fields.map((f) => G.el("option", { value: f.name, text: f.label }))));
      }
      sort.addEventListener("change", () => { this.state.sort = sort.value; this.update(); });
      document.getElementById("dir").addEventListener("click", () => {
        this.state.dir = this.state.dir === "asc" ? "desc" : "asc";
        this.update();
      });
      document.getElementById("compare-button").addEventListener("click", () => this.openCompare());
      document.getElementById("clear-picks").addEventListener("click", () => { this.state.sel = []; this.update(); });
    }

    // --- changes ---
    setQuery(q) { this.state.q = q; this.update(); }

    toggleFilter(id, key) {
      const set = this.state.filters[id] = this.state.filters[id] || new Set();
      if (set.has(key)) set.delete(key); else set.add(key);
      if (!set.size) delete this.state.filters[id];
      this.update();
    }

    clearFilter(id) { delete this.state.filters[id]; this.update(); }

    clearAll() { this.state.filters = {}; this.state.q = ""; this.update(); }

    togglePick(key) {
      const sel = this.state.sel;
      if (sel.includes(key)) sel.splice(sel.indexOf(key), 1);
      else if (sel.length < G.MAX_COMPARE) sel.push(key);
      else this.say("At most " + G.MAX_COMPARE + " runs can be compared: untick one first.");
      this.update();
    }

    openDetail(key) { this.state.open = key; this.state.view = "grid"; this.update(true); }

    openCompare() {
      if (this.state.sel.length < 2) return this.say("Tick 2 to " + G.MAX_COMPARE + " cards to compare them.");
      this.state.open = null;
      this.state.view = "compare";
      this.update(true);
    }

    closeOverlay() { this.state.open = null; this.state.view = "grid"; this.update(); }

    step(delta) {
      const keys = this.shown.map((r) => r.key);
      if (!keys.length) return;
      const at = keys.indexOf(this.state.open);
      this.openDetail(keys[(at < 0 ? 0 : at + delta + keys.length) % keys.length]);
    }

    key(e) {
      if (e.key === "Escape" && (this.state.open || this.state.view === "compare")) this.closeOverlay();
      else if (this.state.open && e.key === "ArrowLeft") this.step(-1);
      else if (this.state.open && e.key === "ArrowRight") this.step(1);
    }

    say(text) {
      const note = document.getElementById("note");
      note.textContent = text;
      note.hidden = false;
      clearTimeout(this.noteTimer);
      this.noteTimer = setTimeout(() => { note.hidden = true; }, 4000);
    }

    restore() {
      this.state = G.stateFromHash(location.hash, this.model);
      this.update(null);
    }

    // --- the page from the state; `push`: a new history entry (true), none (null), replace ---
    update(push) {
      const state = this.state, model = this.model;
      this.shown = G.sortRuns(G.filterRuns(model, state), state.sort, state.dir);
      this.grid.setRuns(this.shown);
      this.filters.update(G.facetCounts(model, state));
      document.getElementById("count").textContent = this.shown.length === model.runs.length
        ? "all " + model.runs.length + " runs" : this.shown.length + " of " + model.runs.length + " runs";
      document.getElementById("sort").value = state.sort;
      const dir = document.getElementById("dir");
      dir.textContent = state.dir === "asc" ? "\u2191 ascending" : "\u2193 descending";
      dir.disabled = !state.sort;
      const button = document.getElementById("compare-button");
      button.textContent = "compare (" + state.sel.length + ")";
      button.disabled = state.sel.length < 2;
      document.getElementById("clear-picks").disabled = !state.sel.length;
      this.overlays();
      if (push !== null) this.write(push);
      document.getElementById("own-tab").href = location.href;
    }

    overlays() {
      const state = this.state;
      const want = state.view === "compare" && state.sel.length >= 2 ? "compare:" + state.sel.join("|")
        : state.open ? "detail:" + state.open : null;
      if (want === this.overlay) return;
      this.detail.close();
      this.compare.close();
      if (want && want.startsWith("detail:")) this.detail.open(state.open);
      else if (want) this.compare.open(state.sel);
      document.body.classList.toggle("overlaid", Boolean(want));
      this.overlay = want;
    }

    write(push) {
      const hash = G.stateToHash(this.state);
      const url = location.pathname + location.search + (hash ? "#" + hash : "");
      if (url === location.pathname + location.search + location.hash) return;
      try {
        if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
      } catch (err) {
        location.replace("#" + hash);
      }
    }
  }

  try {
    G.app = new App(window.NST_GALLERY);
  } catch (err) {
    const box = document.getElementById("failure");
    box.textContent = "The gallery cannot show this study: " + err.message;
    box.hidden = false;
    throw err;
  }
})(window.NSTG);
