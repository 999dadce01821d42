// The rating page (served by nst judge; nst/judge/server.py). One round: the server's list of
// comparisons, each asked with every question; an answer is posted with an id made here, and
// the page moves on only once the server says it is stored (a failed post is sent again with
// the same id, so it is stored once).
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const RATER_KEY = "nst-judge-rater";
  const $ = (id) => document.getElementById(id);
  const state = { rater: null, round: null, items: [], questions: [], index: 0, question: 0,
                  shownAt: 0, busy: false, saved: 0 };

  function randomId() {  // crypto.randomUUID needs a secure context; a lab's http://host does not have one
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function show(id) {
    for (const section of ["name-form", "rating", "done"]) $(section).hidden = section !== id;
  }

  function status(text, bad) {
    $("status").textContent = text;
    $("status").className = bad ? "bad" : "";
  }

  async function fetchRound() {
    const query = state.rater ? "?rater=" + encodeURIComponent(state.rater) : "";
    const response = await fetch("/api/round" + query, { headers: { "X-NST-Token": token } });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  async function begin() {
    status("");
    let data;
    try {
      data = await fetchRound();
    } catch (err) {
      if (!state.rater) { show("name-form"); $("rater").focus(); return; }
      status("Cannot load the comparisons: " + err.message, true);
      return;
    }
    state.rater = data.rater;
    if (!data.bound) localStorage.setItem(RATER_KEY, data.rater);
    state.round = data.round;
    state.items = data.items;
    state.questions = data.questions;
    state.index = 0;
    state.question = 0;
    state.saved = 0;
    if (!state.items.length) {
      $("done-text").textContent = "Nothing is left for you to rate in this study.";
      $("more").hidden = true;
      show("done");
      return;
    }
    show("rating");
    await present();
  }

  function preload(item) {
    if (!item) return;
    for (const url of [item.left, item.right, item.content, ...item.styles]) new Image().src = url;
  }

  async function present() {
    const item = state.items[state.index];
    const question = state.questions[state.question];
    $("question").textContent = question.text;
    $("progress").textContent = (state.index + 1) + " of " + state.items.length +
      (state.questions.length > 1 ? " \u00b7 question " + (state.question + 1) + " of " + state.questions.length : "");
    if (state.question === 0) {
      const styles = $("styles");
      for (const img of styles.querySelectorAll("img")) img.remove();
      for (const url of item.styles) {
        const img = document.createElement("img");
        img.alt = "the style image";
        img.src = url;
        styles.insertBefore(img, styles.querySelector("figcaption"));
      }
      $("content").src = item.content;
      $("left-img").src = item.left;
      $("right-img").src = item.right;
      await Promise.all([...document.querySelectorAll("#rating img")].map((img) => img.decode().catch(() => null)));
      preload(state.items[state.index + 1]);
    }
    state.shownAt = performance.now();
    state.busy = false;
  }

  async function post(body) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch("/api/judgement", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-NST-Token": token },
          body: JSON.stringify(body),
        });
      } catch (err) {
        response = null;  // the server is away: try again with the same id
      }
      if (response && response.ok) return true;
      if (response && response.status < 500) {
        const data = await response.json().catch(() => ({}));
        status("This answer was refused: " + (data.error || response.statusText) + ". Reload the page.", true);
        return false;
      }
      status("Not saved yet: trying again\u2026", true);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
    }
  }

  async function answer(choice) {
    if (state.busy || $("rating").hidden) return;
    state.busy = true;
    const item = state.items[state.index];
    const body = {
      id: randomId(), rater: state.rater, item: item.item, question: state.questions[state.question].key,
      answer: choice, repeat: item.repeat, round: state.round,
      response_ms: Math.round(performance.now() - state.shownAt),
    };
    if (!(await post(body))) return;  // refused: stays busy, the message says why
    state.saved += 1;
    status("Saved.");
    state.question += 1;
    if (state.question >= state.questions.length) {
      state.question = 0;
      state.index += 1;
    }
    if (state.index >= state.items.length) {
      $("done-text").textContent = "Round finished: " + state.saved + " answers saved.";
      $("more").hidden = false;
      show("done");
      return;
    }
    await present();
  }

  $("left").addEventListener("click", () => answer("left"));
  $("right").addEventListener("click", () => answer("right"));
  $("same").addEventListener("click", () => answer("same"));
  $("more").addEventListener("click", () => begin());
  document.addEventListener("keydown", (event) => {
    if ($("rating").hidden || event.altKey || event.ctrlKey || event.metaKey) return;
    const choice = { ArrowLeft: "left", "1": "left", ArrowRight: "right", "2": "right",
                     ArrowDown: "same", " ": "same" }[event.key];
    if (!choice) return;
    event.preventDefault();
    answer(choice);
  });
  $("rater-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("rater").value.trim();
    if (!name) return;
    state.rater = name;
    begin();
  });

  state.rater = localStorage.getItem(RATER_KEY);
  begin();
})();
