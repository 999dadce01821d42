// The card grid, virtualised: only the rows on screen (and one screen either side) are in the
// page, so 10,000 cards scroll as smoothly as 10. Every card has the same size.
"use strict";

(function (G) {
  const CARD_W = 248, GAP = 12, THUMB = 230, LINE = 16;

  // Where a card's link points: the run's own folder on disk; inside the report's zip, which
  // carries only the gallery's folder, the gallery's copy of the run's image.
  G.runHref = function (app, run) {
    return app.inReport ? G.copyOf(run.key, "png") : "../" + G.path("runs", run.key) + "/";
  };

  // Per evaluator: "name: S .. C .. T .." and, when it has image metrics, a line of them.
  function scoreLines(app, run) {
    const lines = [];
    for (const ev of app.model.data.evaluators) {
      const prefix = "score_" + ev.name + "_";
      const main = [], metrics = [];
      for (const c of ev.columns) {
        const what = c.slice(prefix.length);
        const short = { style: "S", content: "C", total: "T" }[what];
        (short ? main : metrics).push((short || what.split("_")[0]) + " " + G.fmtNumber(run.v[c]));
      }
      lines.push(ev.name + ": " + main.join("  "));
      if (metrics.length) lines.push("\u2003" + metrics.join("  "));
    }
    return lines;
  }

  G.cardLineCount = function (app) {
    const perEvaluator = app.model.data.evaluators.map((ev) => (ev.columns.length > 3 ? 2 : 1));
    return 6 + perEvaluator.reduce((a, b) => a + b, 0);
  };

  // What the run's experiments vary, with its values ("style_weight=1e6, init=zeros"); for a run
  // of experiments that vary nothing (content x style), their base preset.
  G.trialSettings = function (model, run) {
    const keys = [...new Set(run.trials.flatMap((t) => t.experiment.keys))];
    const parts = keys.map((k) => {
      const f = model.field[k] || model.field["param_" + k];
      return k + "=" + (f ? G.fmtValue(run.v[f.name]) : "?");
    });
    if (parts.length) return parts.join(", ");
    return "base: " + [...new Set(run.trials.map((t) => t.experiment.base))].join(", ");
  };

  G.cardElement = function (app, run) {
    const model = app.model, state = app.state;
    const picked = state.sel.includes(run.key);
    const box = G.el("div", { class: "thumb" }, [
      G.el("img", { src: G.copyOf(run.key, "webp"), alt: run.key, loading: "lazy", decoding: "async" }),
      G.el("div", { class: "marks" }, G.marks(run).map((m) => G.el("span", { class: "mark " + m.cls, text: m.word }))),
    ]);
    const pick = G.el("input", { type: "checkbox", class: "pick", title: "compare (2-4 runs)", checked: picked,
      "aria-label": "compare " + run.key, onclick: (e) => { e.stopPropagation(); app.togglePick(run.key); } });
    const trials = run.trials.map((t) => t.experiment.name + (t.label && t.label !== "base" ? " [" + t.label + "]" : ""));
    const settings = G.trialSettings(model, run);
    const own = "own loss " + G.fmtNumber(run.v.final_total) + "  C " + G.fmtNumber(run.v.final_content) +
      "  S " + G.fmtNumber(run.v.final_style);
    const sortField = state.sort ? model.field[state.sort] : null;
    const lines = [
      G.el("div", { class: "pair", title: run.content + " \u00d7 " + run.style, text: run.content + " \u00d7 " + run.style }),
      G.el("div", { class: "trials", title: trials.join("\n"), text: trials.join(" \u00b7 ") }),
      G.el("div", { class: "settings", title: settings, text: settings }),
      G.el("div", { class: "losses", text: own }),
      ...scoreLines(app, run).map((t) => G.el("div", { class: "scores", title: t, text: t })),
      G.el("div", { class: "foot" }, [
        G.el("a", { class: "run-link", href: G.runHref(app, run), target: "_blank", title: "the run's folder",
          onclick: (e) => e.stopPropagation(), text: run.run_id }),
        sortField ? G.el("span", { class: "sorted", title: "sorted by " + sortField.label },
          [G.el("b", { text: G.fmtNumber(run.v[sortField.name]) }), " " + sortField.label]) : null,
      ]),
    ];
    const card = G.el("article", { class: "card" + (picked ? " picked" : ""), "data-key": run.key, tabindex: 0,
      onclick: () => app.openDetail(run.key), onkeydown: (e) => { if (e.key === "Enter") app.openDetail(run.key); } },
    [box, pick, G.el("div", { class: "lines" }, lines)]);
    return card;
  };

  G.Grid = class {
    constructor(app, scroller) {
      this.app = app;
      this.scroller = scroller;
      this.inner = G.el("div", { class: "grid-inner" });
      scroller.append(this.inner);
      this.runs = [];
      this.shown = new Map();
      this.cardH = THUMB + 8 + LINE * G.cardLineCount(app) + 18; // + padding and border
      let pending = false;
      const later = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; this.render(); }); } };
      scroller.addEventListener("scroll", later, { passive: true });
      new ResizeObserver(later).observe(scroller);
    }

    setRuns(runs) {
      this.runs = runs;
      this.clear();
      this.render();
    }

    clear() {
      for (const node of this.shown.values()) node.remove();
      this.shown.clear();
    }

    refresh() { this.clear(); this.render(); }

    render() {
      const width = this.scroller.clientWidth - GAP;
      const cols = Math.max(1, Math.floor(width / (CARD_W + GAP)));
      const rowH = this.cardH + GAP;
      const rows = Math.ceil(this.runs.length / cols);
      this.inner.style.height = rows * rowH + GAP + "px";
      const view = this.scroller.clientHeight;
      const first = Math.max(0, Math.floor((this.scroller.scrollTop - view) / rowH));
      const last = Math.min(rows - 1, Math.floor((this.scroller.scrollTop + 2 * view) / rowH));
      const wanted = new Map();
      for (let r = first; r <= last; r++) {
        for (let c = 0; c < cols; c++) {
          const run = this.runs[r * cols + c];
          if (run) wanted.set(run.key, [r, c, run]);
        }
      }
      for (const [key, node] of this.shown) if (!wanted.has(key)) { node.remove(); this.shown.delete(key); }
      for (const [key, [r, c, run]] of wanted) {
        let node = this.shown.get(key);
        if (!node) {
          node = G.cardElement(this.app, run);
          node.style.height = this.cardH + "px";
          this.inner.append(node);
          this.shown.set(key, node);
        }
        node.style.transform = `translate(${GAP + c * (CARD_W + GAP)}px, ${GAP + r * rowH}px)`;
      }
    }
  };
})(window.NSTG);
