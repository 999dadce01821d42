// Two to four runs side by side at full size. Zoom (wheel, +/-) and pan (drag) move every image
// alike, so the same detail is under the pointer in each; the settings and scores are one
// table, with the rows whose values differ highlighted.
"use strict";

(function (G) {
  const MIN_ZOOM = 1, MAX_ZOOM = 32;

  G.Compare = class {
    constructor(app, root) {
      this.app = app;
      this.root = root;
      this.view = { s: 1, x: 0, y: 0 };
      this.stages = [];
    }

    open(keys) {
      const app = this.app, model = app.model;
      const runs = keys.map((k) => model.byKey.get(k)).filter(Boolean);
      this.view = { s: 1, x: 0, y: 0 };
      const zoomText = G.el("span", { class: "zoom-text", text: "1\u00d7" });
      this.zoomText = zoomText;
      const head = G.el("header", {}, [
        G.el("h2", { text: "Compare " + runs.length + " runs" }),
        G.el("div", { class: "buttons" }, [
          G.el("button", { type: "button", title: "zoom out", onclick: () => this.zoomBy(1 / 1.5), text: "\u2212" }),
          zoomText,
          G.el("button", { type: "button", title: "zoom in", onclick: () => this.zoomBy(1.5), text: "+" }),
          G.el("button", { type: "button", title: "fit (double-click an image)", onclick: () => this.apply({ s: 1, x: 0, y: 0 }), text: "fit" }),
          G.el("button", { type: "button", class: "close", title: "close (Esc)", onclick: () => app.closeOverlay(), text: "\u2715" }),
        ]),
      ]);
      this.stages = [];
      const panes = runs.map((run) => {
        const img = G.el("img", { src: G.copyOf(run.key, "png"), alt: run.key, draggable: "false" });
        const stage = G.el("div", { class: "stage" }, [img]);
        this.stages.push({ stage: stage, img: img });
        this.bind(stage);
        return G.el("div", { class: "pane", "data-key": run.key }, [
          G.el("div", { class: "pane-title" }, [run.content + " \u00d7 " + run.style + " ",
            G.el("a", { href: G.runHref(app, run), target: "_blank", text: run.run_id }),
            ...G.marks(run).map((m) => G.el("span", { class: "mark " + m.cls, text: m.word }))]),
          stage,
        ]);
      });
      const grid = G.el("div", { class: "panes n" + runs.length }, panes);
      this.root.replaceChildren(G.el("div", { class: "panel", role: "dialog", "aria-label": "compare" },
        [head, grid, this.table(runs)]));
      this.root.hidden = false;
      this.apply(this.view);
    }

    // Rows: where the runs come from, every setting, then losses and scores; differing rows marked.
    table(runs) {
      const model = this.app.model;
      const text = (run, f) => G.fieldText(run, f);
      const rows = [];
      const add = (label, cells, cls) => {
        const differs = new Set(cells).size > 1;
        rows.push(G.el("tr", { class: [cls, differs ? "differs" : "same"].filter(Boolean).join(" ") },
          [G.el("th", { text: label }), ...cells.map((c) => G.el("td", { text: c }))]));
      };
      add("pair", runs.map((r) => r.content + " \u00d7 " + r.style));
      add("trials", runs.map((r) => r.trials.map((t) => t.experiment.name + " [" + t.label + "]").join("; ")));
      add("status", runs.map((r) => r.status.join(", ")));
      for (const f of model.fields.filter((f) => f.group === "param")) add(f.label, runs.map((r) => text(r, f)), "setting");
      for (const g of G.numberGroups(model)) {
        rows.push(G.el("tr", { class: "group" }, [G.el("th", { colspan: runs.length + 1, text: g.title })]));
        for (const f of g.fields) add(f.label, runs.map((r) => text(r, f)), "number");
      }
      const onlyDiff = G.el("input", { type: "checkbox", class: "only-differences",
        onchange: (e) => table.classList.toggle("only-differences", e.target.checked) });
      const table = G.el("table", { class: "compare-table" }, [
        G.el("thead", {}, G.el("tr", {}, [G.el("th", {}, G.el("label", {}, [onlyDiff, " only differences"])),
          ...runs.map((r) => G.el("th", { text: r.run_id }))])),
        G.el("tbody", {}, rows),
      ]);
      return table;
    }

    bind(stage) {
      stage.addEventListener("wheel", (e) => {
        e.preventDefault();
        const box = stage.getBoundingClientRect();
        this.zoomBy(Math.pow(1.0015, -e.deltaY), e.clientX - box.left, e.clientY - box.top, box);
      }, { passive: false });
      stage.addEventListener("pointerdown", (e) => {
        const start = { x: e.clientX, y: e.clientY, view: Object.assign({}, this.view) };
        stage.setPointerCapture(e.pointerId);
        const move = (ev) => this.apply({ s: start.view.s, x: start.view.x + ev.clientX - start.x,
          y: start.view.y + ev.clientY - start.y });
        const up = () => { stage.removeEventListener("pointermove", move); stage.removeEventListener("pointerup", up); };
        stage.addEventListener("pointermove", move);
        stage.addEventListener("pointerup", up);
      });
      stage.addEventListener("dblclick", () => this.apply({ s: 1, x: 0, y: 0 }));
    }

    // Zoom by `factor` about the point (px, py) of a stage (its centre by default).
    zoomBy(factor, px, py, box) {
      box = box || (this.stages[0] && this.stages[0].stage.getBoundingClientRect());
      if (!box) return;
      px = px === undefined ? box.width / 2 : px;
      py = py === undefined ? box.height / 2 : py;
      const s = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.s * factor));
      const k = s / this.view.s;
      this.apply({ s: s, x: px - (px - this.view.x) * k, y: py - (py - this.view.y) * k });
    }

    // The same transform on every image; the view is kept so that the image covers the stage.
    apply(view) {
      const box = this.stages[0] && this.stages[0].stage.getBoundingClientRect();
      if (box && box.width) {
        view.x = Math.min(0, Math.max(box.width * (1 - view.s), view.x));
        view.y = Math.min(0, Math.max(box.height * (1 - view.s), view.y));
      }
      this.view = view;
      for (const { img } of this.stages) {
        img.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.s})`;
        img.classList.toggle("pixels", view.s >= 3);
      }
      if (this.zoomText) this.zoomText.textContent = (Math.round(view.s * 10) / 10) + "\u00d7";
    }

    close() {
      this.root.hidden = true;
      this.root.replaceChildren();
      this.stages = [];
    }
  };
})(window.NSTG);
