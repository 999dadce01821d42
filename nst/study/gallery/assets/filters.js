// The filter column: a text search, then one group of checkboxes per control (content, style,
// experiment, status, each setting the study varies), each value with the number of runs it
// would show given the other controls. Ticked values of one control are alternatives (or);
// controls combine (and).
"use strict";

(function (G) {
  G.Filters = class {
    constructor(app, root) {
      this.app = app;
      this.root = root;
      this.boxes = new Map(); // control id -> Map(value key -> {input, count, label})
      this.build();
    }

    build() {
      const app = this.app;
      const search = G.el("input", { type: "search", id: "search", placeholder: "search: names, settings, labels",
        value: app.state.q, "aria-label": "search", oninput: (e) => app.setQuery(e.target.value) });
      this.search = search;
      const groups = app.model.controls.filter((c) => c.values.length > 1 || ["status", "experiment"].includes(c.id)).map((c) => {
        const boxes = new Map();
        const items = c.values.map((k) => {
          const input = G.el("input", { type: "checkbox", value: k, onchange: () => app.toggleFilter(c.id, k) });
          const count = G.el("span", { class: "count" });
          const label = G.el("label", { class: "value", title: k === "" ? "(none)" : k }, [input,
            G.el("span", { class: "name", text: c.field ? G.fmtValue(valueOf(c, k)) : (k || "(none)") }), count]);
          boxes.set(k, { input: input, count: count, label: label });
          return label;
        });
        this.boxes.set(c.id, boxes);
        const clear = G.el("button", { type: "button", class: "clear", title: "clear " + c.label,
          onclick: () => app.clearFilter(c.id), text: "clear" });
        return G.el("fieldset", { class: "control", "data-control": c.id }, [
          G.el("legend", {}, [c.label, " ", clear]), G.el("div", { class: "values" }, items)]);
      });
      const all = G.el("button", { type: "button", class: "clear-all", onclick: () => app.clearAll(), text: "clear all filters" });
      this.root.replaceChildren(search, all, ...groups);
    }

    // Ticks and counts from the app's state (after every change).
    update(counts) {
      const state = this.app.state;
      if (this.search.value !== state.q) this.search.value = state.q;
      for (const [id, boxes] of this.boxes) {
        const ticked = state.filters[id] || new Set();
        for (const [k, box] of boxes) {
          box.input.checked = ticked.has(k);
          const n = counts[id][k] || 0;
          box.count.textContent = String(n);
          box.label.classList.toggle("none", n === 0 && !ticked.has(k));
        }
      }
    }
  };

  // A control's value key back to the value it stands for (numbers stay numbers when formatted).
  function valueOf(control, key) {
    if (key === "") return null;
    const n = Number(key);
    return Number.isNaN(n) || control.field.type === "text" ? key : n;
  }
})(window.NSTG);
