// A run's loss curve as SVG (drawn here: no chart library): the weighted total, content and
// style losses over the iterations, on a log axis when they span more than a decade; a red line
// where the run diverged, dotted lines where a multi-scale run changed size.
"use strict";

(function (G) {
  const SVG = "http://www.w3.org/2000/svg";
  const SERIES = [["total", "#222"], ["content", "#1f6fb4"], ["style", "#d9730d"], ["tv", "#888"]];

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Curves load as scripts (file:// pages may not fetch): runs/<key>.js files its curve
  // under the key in window.NST_CURVES. Resolves with the curve, or null if it cannot load.
  G.loadCurve = function (key) {
    const have = (window.NST_CURVES || {})[key];
    if (have) return Promise.resolve(have);
    return new Promise((resolve) => {
      const script = document.createElement("script");
      script.src = G.copyOf(key, "js");
      script.onload = () => resolve((window.NST_CURVES || {})[key] || null);
      script.onerror = () => resolve(null);
      document.head.append(script);
    });
  };

  function ticks(lo, hi, count) {
    const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count || 1)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) || step * 10;
    const out = [];
    for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-9 * nice; t += nice) out.push(Number(t.toPrecision(6)));
    return out;
  }

  G.lossChart = function (curve, options) {
    const opts = Object.assign({ width: 560, height: 240, divergedAt: null }, options || {});
    const m = { left: 58, right: 12, top: 10, bottom: 34 };
    const w = opts.width - m.left - m.right, h = opts.height - m.top - m.bottom;
    const root = svg("svg", { width: opts.width, height: opts.height, viewBox: `0 0 ${opts.width} ${opts.height}`,
      class: "loss-chart", role: "img", "aria-label": "loss curve" });
    const series = SERIES.filter(([name]) => curve[name] && curve[name].some((v) => v !== null));
    const values = series.flatMap(([name]) => curve[name].filter((v) => v !== null));
    const its = curve.iteration;
    if (!values.length || !its.length) {
      root.append(svg("text", { x: 10, y: 20 }, "no finite losses to draw"));
      return root;
    }
    // Zeros (a content loss at iteration 1 from init: content) are left out of the log axis, which
    // spans at most six decades below the top: what lies lower is drawn on its floor.
    const positive = values.filter((v) => v > 0);
    let lo = Math.min(...values), hi = Math.max(...values);
    const log = positive.length > 0 && hi / Math.min(...positive) > 10;
    if (log) lo = Math.max(Math.min(...positive), hi * 1e-6);
    const f = log ? Math.log10 : (v) => v;
    if (log) { lo = Math.pow(10, Math.floor(Math.log10(lo))); hi = Math.pow(10, Math.ceil(Math.log10(hi))); }
    if (lo === hi) { lo -= 1; hi += 1; }
    const x0 = its[0], x1 = its[its.length - 1] === x0 ? x0 + 1 : its[its.length - 1];
    const X = (it) => m.left + ((it - x0) / (x1 - x0)) * w;
    const Y = (v) => m.top + h - ((f(v) - f(lo)) / (f(hi) - f(lo))) * h;
    const axis = svg("g", { class: "axis" });
    axis.append(svg("rect", { x: m.left, y: m.top, width: w, height: h, fill: "none", stroke: "#bbb" }));
    const yticks = log ? ticks(Math.log10(lo), Math.log10(hi), 6).map((e) => Math.pow(10, e)) : ticks(lo, hi, 5);
    for (const t of yticks) {
      axis.append(svg("line", { x1: m.left, x2: m.left + w, y1: Y(t), y2: Y(t), stroke: "#eee" }));
      axis.append(svg("text", { x: m.left - 4, y: Y(t) + 4, "text-anchor": "end" }, G.fmtNumber(t)));
    }
    for (const t of ticks(x0, x1, 6)) {
      axis.append(svg("text", { x: X(t), y: m.top + h + 14, "text-anchor": "middle" }, String(t)));
    }
    axis.append(svg("text", { x: m.left + w / 2, y: opts.height - 4, "text-anchor": "middle" }, "iteration"));
    root.append(axis);
    if (curve.scale) {
      for (let k = 1; k < its.length; k++) {
        if (curve.scale[k] !== curve.scale[k - 1]) {
          root.append(svg("line", { x1: X(its[k]), x2: X(its[k]), y1: m.top, y2: m.top + h, stroke: "#555",
            "stroke-dasharray": "2 3", class: "scale-change" }));
        }
      }
    }
    if (opts.divergedAt !== null && opts.divergedAt !== undefined) {
      const x = X(Math.min(Math.max(opts.divergedAt, x0), x1));
      root.append(svg("line", { x1: x, x2: x, y1: m.top, y2: m.top + h, stroke: "#c80000", class: "diverged-at" }));
    }
    series.forEach(([name, color], k) => {
      let d = "", pen = false;
      curve[name].forEach((v, j) => {
        if (v === null || (log && v <= 0)) { pen = false; return; }
        d += (pen ? "L" : "M") + X(its[j]).toFixed(1) + "," + Y(Math.min(Math.max(v, lo), hi)).toFixed(1);
        pen = true;
      });
      root.append(svg("path", { d: d, fill: "none", stroke: color, "stroke-width": name === "total" ? 2 : 1.3,
        class: "series series-" + name }));
      const lx = m.left + w - 70, ly = m.top + 14 + 14 * k;
      root.append(svg("line", { x1: lx, x2: lx + 14, y1: ly - 4, y2: ly - 4, stroke: color, "stroke-width": 2 }));
      root.append(svg("text", { x: lx + 18, y: ly }, name));
    });
    return root;
  };
})(window.NSTG);
