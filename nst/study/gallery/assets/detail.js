// One run opened: its full-size image beside its content and style images, every setting (the
// ones the study varies highlighted), its trials, losses and scores, its loss curve and links
// to its files. Left/right arrows step through the cards as they are filtered and sorted.
"use strict";

(function (G) {
  G.imageOf = function (app, role, stem) {
    const path = (app.model.data.images[role] || {})[stem];
    return path ? G.path(path) : null;
  };

  function figure(src, caption, cls) {
    return G.el("figure", { class: cls || "" }, [
      src ? G.el("img", { src: src, alt: caption }) : G.el("div", { class: "missing", text: "(no image)" }),
      G.el("figcaption", { text: caption }),
    ]);
  }

  G.row = function (label, value, cls) {
    return G.el("tr", { class: cls || "" }, [G.el("th", { text: label }), G.el("td", { text: value })]);
  };

  function table(title, rows) {
    return G.el("table", { class: "facts" }, [G.el("caption", { text: title }), G.el("tbody", {}, rows)]);
  }

  // Numeric fields in groups: the run's own losses, each evaluator's scores, run.json's
  // reference evaluation, and the run itself.
  G.numberGroups = function (model) {
    const groups = [{ title: "own losses (the run's own definition: not comparable across runs)",
      fields: model.fields.filter((f) => f.group === "loss") }];
    for (const ev of model.data.evaluators) {
      groups.push({ title: "evaluator " + ev.text,
        fields: model.fields.filter((f) => f.group === "score" && f.name.startsWith("score_" + ev.name + "_")) });
    }
    groups.push({ title: "run.json's evaluation (the baseline's definition, on the run's own network)",
      fields: model.fields.filter((f) => f.group === "eval") });
    groups.push({ title: "run", fields: model.fields.filter((f) => f.group === "run") });
    return groups.filter((g) => g.fields.length);
  };

  G.fieldText = function (run, f) {
    return f.type === "number" ? G.fmtNumber(run.v[f.name]) : G.fmtValue(run.v[f.name]);
  };

  function links(app, run) {
    const here = G.runHref(app, run);
    const items = app.inReport ? [["image.png (" + run.run_id + ")", here]]
      : [["run folder", here], ["image.png", here + "image.png"], ["run.json", here + "run.json"],
        ["history.csv", here + "history.csv"], ["scores/", here + "scores/"]];
    const note = app.inReport ? " (inside the report: the gallery's copy; run.json, history.csv and scores are in " +
      "the run's folder on disk, results/runs/" + run.key + "/)" : "";
    return G.el("p", { class: "links" }, [
      ...items.flatMap(([text, href]) => [G.el("a", { href: href, target: "_blank", text: text }), " "]), note]);
  }

  G.Detail = class {
    constructor(app, root) {
      this.app = app;
      this.root = root;
      this.key = null;
    }

    open(key) {
      const app = this.app, run = app.model.byKey.get(key);
      this.key = key;
      const picked = app.state.sel.includes(key);
      const marks = G.marks(run).map((m) => G.el("span", { class: "mark " + m.cls, text: m.word }));
      const head = G.el("header", {}, [
        G.el("h2", {}, [run.content + " \u00d7 " + run.style + " ", G.el("code", { text: run.run_id }), ...marks]),
        G.el("div", { class: "buttons" }, [
          G.el("button", { type: "button", title: "previous card (\u2190)", onclick: () => app.step(-1), text: "\u25c0" }),
          G.el("button", { type: "button", title: "next card (\u2192)", onclick: () => app.step(1), text: "\u25b6" }),
          G.el("label", { class: "pick-label" }, [G.el("input", { type: "checkbox", class: "detail-pick", checked: picked,
            onchange: () => app.togglePick(key) }), " compare"]),
          G.el("button", { type: "button", class: "close", title: "close (Esc)", onclick: () => app.closeOverlay(), text: "\u2715" }),
        ]),
      ]);
      const images = G.el("div", { class: "images" }, [
        figure(G.copyOf(key, "png"), "result", "result"),
        figure(G.imageOf(app, "content", run.content), "content: " + run.content),
        figure(G.imageOf(app, "style", run.style), "style: " + run.style),
      ]);
      const trials = table("experiments and trials", run.trials.map((t) => G.row(t.experiment.name,
        t.label + (t.selected === 1 ? " \u2014 SELECTED" : t.selected === 0 ? " \u2014 candidate" : "") +
        (t.stopped !== null && t.stopped !== undefined ? " \u2014 STOPPED at " + t.stopped : ""))));
      const settings = table("settings (highlighted: varied in this study)", app.model.fields
        .filter((f) => f.group === "param").map((f) => G.row(f.label, G.fmtValue(run.v[f.name]), f.varies ? "varied" : "")));
      const numbers = G.numberGroups(app.model).map((g) => table(g.title,
        g.fields.map((f) => G.row(f.label, G.fieldText(run, f)))));
      const chart = G.el("div", { class: "chart", text: "loading the loss curve\u2026" });
      const body = G.el("div", { class: "columns" }, [
        G.el("div", {}, [trials, settings]),
        G.el("div", {}, [G.el("h3", { text: "loss curve (weighted losses, history.csv)" }), chart, ...numbers]),
      ]);
      this.root.replaceChildren(G.el("div", { class: "panel", role: "dialog", "aria-label": "run " + key },
        [head, images, links(app, run), body]));
      this.root.hidden = false;
      G.loadCurve(key).then((curve) => {
        if (this.key !== key) return;
        chart.replaceChildren(curve ? G.lossChart(curve, { divergedAt: run.v.diverged_at })
          : G.el("p", { text: "no loss curve (" + G.copyOf(key, "js") + " did not load)" }));
      });
    }

    close() {
      this.key = null;
      this.root.hidden = true;
      this.root.replaceChildren();
    }
  };
})(window.NSTG);
