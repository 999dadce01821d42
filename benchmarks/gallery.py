"""Benchmark 9: the gallery of a 10,000-run study: its build, and the page's first render.

A synthetic finished study, records only (no optimisation): 10 content x 10 style images, one
10 x 10 grid (style_weight x content_weight) over all 100 pairs, every run with the files the
gallery reads: image.png (64 px), run.json, its card (thumb.webp, curve.js of 300 iterations),
runs.csv made by nst's own aggregate.run_row, and the manifest. Timed:
  - `nst gallery build` in a fresh process (what the workflow's gallery job runs), repeated;
  - one `nst gallery card` (a run's own card job, made once per run: not part of a build);
  - the page in Chromium (Debian's, through Playwright, as the browser tests drive it), opened
    from file://: navigation start to the end of the first render (the app's own
    performance.now() when it is ready), then to every image on screen decoded; ticking one
    value (filter, counts, grid), sorting by a score, and a jump to the end of the grid.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

from .common import BIN, log, median, run_child, table, child_env

N_CONTENT = N_STYLE = 10
STYLE_WEIGHTS = [10.0 ** (3 + k / 2) for k in range(10)]
CONTENT_WEIGHTS = [float(k + 1) for k in range(10)]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def make_study(root: Path) -> Path:
    """The synthetic study under root/results; returns the manifest's path."""
    import numpy as np
    from PIL import Image

    from nst.contracts.evaluators import make_evaluator
    from nst.contracts.presets import preset
    from nst.contracts import layout
    from nst.study.tables import aggregate
    from nst.study.gallery.cards import curve_script
    from nst.contracts.manifest import Experiment, Manifest, Trial, label_of

    results = root / "results"
    rng = np.random.default_rng(0)
    images = {"content": {}, "style": {}}
    for role, n in (("content", N_CONTENT), ("style", N_STYLE)):
        for i in range(n):
            path = root / "images" / role / f"{role}{i:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")).save(path)
            images[role][path.stem] = str(path)
    png, webp = io.BytesIO(), io.BytesIO()
    picture = Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8"))
    picture.save(png, format="PNG")
    picture.save(webp, format="WEBP", quality=82)
    evaluator = make_evaluator({"name": "gatys", "weights": "random"})
    curve = {"rows": 300, "iteration": list(range(1, 301)),
             **{k: [float(f"{1e5 / i:.5g}") for i in range(1, 301)] for k in ("total", "content", "style")}}
    trials, rows = [], []
    for content in images["content"]:
        for style in images["style"]:
            for sw in STYLE_WEIGHTS:
                for cw in CONTENT_WEIGHTS:
                    params = preset("baseline", size=64, weights="random", style_weight=sw, content_weight=cw)
                    values = {"style_weight": sw, "content_weight": cw}
                    trials.append(Trial("weights_grid", content, style, params.run_id, values, label_of(values)))
                    n = len(rows)
                    record = {"run_id": params.run_id, "status": "diverged" if n % 97 == 0 else "ok",
                              "iterations_done": 300, "params": params.to_dict(),
                              "final": {"content": 1.0 + n, "style": 2.0 + n, "total": 3.0 + 2 * n},
                              "evaluation": {"eval_content": 0.1, "eval_style": 0.2, "eval_total": 0.3,
                                             "ssim_content": 0.5, "color_distance_style": 0.01},
                              "weights": {"source": "random", "random": True}, "random_weights": True,
                              "device": "cpu", "timing": {"seconds": 1.0}}
                    scores = {"scores": {"style": 0.1 + (n * 7919 % 1000) / 1000, "content": 0.5,
                                         "total": 0.6, "ssim_content": 0.5, "color_distance_style": 0.1,
                                         "texture_distance_style": 0.2,
                                         "style_layers": {k: 0.1 for k in evaluator.settings["style_layers"]},
                                         "content_layers": {k: 0.1 for k in evaluator.settings["content_layers"]}}}
                    rows.append(aggregate.run_row(record, content, style, [(evaluator, scores)]))
                    folder = Path(layout.run_folder(content, style, params.run_id, layout.runs_folder(results)))
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / layout.IMAGE).write_bytes(png.getvalue())
                    (folder / layout.RECORD).write_text(json.dumps(record))
                    key = f"{content}/{style}/{params.run_id}"
                    thumb = Path(layout.card_file(content, style, params.run_id, layout.THUMB, results))
                    thumb.parent.mkdir(parents=True, exist_ok=True)
                    thumb.write_bytes(webp.getvalue())
                    (thumb.parent / layout.CURVE).write_text(curve_script(key, curve))
                    if n == 0:
                        import pandas as pd

                        pd.DataFrame({"iteration": curve["iteration"], "content": curve["content"],
                                      "style": curve["style"], "total": curve["total"], "seconds": 0.0}
                                     ).to_csv(folder / layout.HISTORY, index=False)
    import pandas as pd

    aggregate.write_csv(pd.DataFrame(rows), layout.table("runs", results))
    experiment = Experiment("grid", ("style_weight", "content_weight"), "baseline", "Style weight x content weight", "", None)
    manifest = Manifest({"weights_grid": experiment}, tuple(trials), None, images, (evaluator,))
    path = results / "plan" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest.to_json())
    return path


def page_timings(index: Path, repeats: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(index.resolve().as_uri())
            page.wait_for_selector("body[data-ready=true]")
            page.wait_for_function("[...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)")
            loaded = page.evaluate("performance.now()")
            timing = page.evaluate("""() => {
                const nav = performance.getEntriesByType('navigation')[0];
                const G = window.NSTG, app = G.app, t = [];
                let t0 = performance.now(); app.toggleFilter('style_weight', app.model.controls.find(c => c.id === 'style_weight').values[3]);
                t.push(performance.now() - t0);
                t0 = performance.now(); app.state.sort = 'score_gatys_style'; app.update(); t.push(performance.now() - t0);
                const grid = document.getElementById('grid');
                app.clearAll();
                t0 = performance.now(); grid.scrollTop = grid.scrollHeight; app.grid.render(); t.push(performance.now() - t0);
                return {ready: G.readyAt, dom: nav.domContentLoadedEventEnd, tick: t[0], sort: t[1], jump: t[2],
                        cards: document.querySelectorAll('.card').length};
            }""")
            timing["images"] = loaded
            out.append(timing)
            page.close()
        browser.close()
    return out


def run(repeats: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nst-bench-gallery-"))
    try:
        log("  writing a synthetic 10,000-run study (records only)")
        manifest = make_study(work)
        results = work / "results"
        builds = []
        for rep in range(repeats):
            child = run_child([str(BIN / "nst"), "gallery", "build", "--manifest", str(manifest), "--results",
                               str(results), "-o", str(results / "gallery")], cwd=work, env=child_env())
            builds.append((child.wall, child.maxrss_mib))
            log(f"  nst gallery build, 10,000 runs, repeat {rep + 1}/{repeats}: {child.wall:.2f}s")
        first = next((results / "runs").glob("*/*/*/history.csv")).parent
        cards = []
        for _ in range(repeats):
            child = run_child([str(BIN / "nst"), "gallery", "card", str(first), "--key", "a/b/c", "--thumb",
                               str(work / "t.webp"), "--curve", str(work / "c.js")], cwd=work, env=child_env())
            cards.append(child.wall)
        data_mb = (results / "gallery" / "data.js").stat().st_size / 2**20
        log("  the page in Chromium")
        pages = page_timings(results / "gallery" / "index.html", repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [[f"nst gallery build (fresh process), repeat {i + 1}", w, r] for i, (w, r) in enumerate(builds)]
    rows.append(["nst gallery card, one run (its own job, once per run; median)", median(cards), ""])
    md = table(["10,000 runs (100 pairs x 100 settings)", "wall (s)", "peak RSS (MiB)"], rows)
    page_rows = [[f"load {i + 1}", p["dom"], p["ready"], p["images"], p["tick"], p["sort"], p["jump"], p["cards"]]
                 for i, p in enumerate(pages)]
    md += "\n\n" + table(["Chromium, file://", "DOMContentLoaded (ms)", "first render done (ms)",
                          "images on screen decoded (ms)", "tick a value (ms)", "sort by a score (ms)",
                          "jump to the end (ms)", "cards in the page"], page_rows)
    md += (f"\n\ndata.js: {data_mb:.1f} MB. Times from navigation start; the page renders only the rows on "
           f"screen and one screen either side, whatever the number of runs.")
    return {"markdown": md, "raw": {"builds": builds, "cards": cards, "pages": pages, "data_mb": data_mb}}
