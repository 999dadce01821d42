// The gallery's small helpers: number and value formatting, HTML escaping, element building.
// Plain scripts, not ES modules: a page opened from file:// may not load modules (CORS).
"use strict";
window.NSTG = window.NSTG || {};

(function (G) {
  // A loss or score: 3 significant digits, exponent form for very large or small values.
  G.fmtNumber = function (x) {
    if (x === null || x === undefined || Number.isNaN(x)) return "\u2013";
    const a = Math.abs(x);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
    return String(Number(x.toPrecision(3)));
  };

  // A setting's value as a label: integers below 10^5 as they are, other numbers short.
  G.fmtValue = function (v) {
    if (v === null || v === undefined || v === "") return "(none)";
    if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 1e5 ? String(v) : G.fmtNumber(v);
    if (typeof v === "boolean") return v ? "true" : "false";
    return String(v);
  };

  // The key a value has in filters and in the page's address (stable across reloads).
  G.valueKey = function (v) {
    if (v === null || v === undefined) return "";
    return String(v);
  };

  G.el = function (tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  // The gallery's copy of a run's file: runs/<content>/<style>/<run_id>.<ext>, ext one of
  // webp (the thumbnail), png (the image), js (the loss curve).
  G.copyOf = function (key, ext) {
    return G.path("runs", key) + "." + ext;
  };

  // A relative URL of a file whose path parts may hold any character (image stems do).
  G.path = function (...parts) {
    return parts.map((p) => String(p).split("/").map(encodeURIComponent).join("/")).join("/");
  };
})(window.NSTG);
