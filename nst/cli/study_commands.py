"""The workflow's study commands: `nst aggregate` (tables), `nst figures`, `nst score`."""
from __future__ import annotations

import json

from ..errors import NSTError


def add_parsers(sub) -> dict:
    agg = sub.add_parser("aggregate", help="tables of a planned study (used by the workflow)")
    agg.add_argument("what", choices=["runs", "experiment", "table5", "summary", "interactions", "findings"])
    agg.add_argument("experiment", nargs="?",
                     help="experiment name (for 'experiment', 'summary' and 'interactions')")
    agg.add_argument("--manifest", required=True)
    agg.add_argument("--results", default="results", help="results folder (runs/ and tables/ inside)")
    agg.add_argument("--claims", help="findings: the claims file (YAML, see claims.yaml)")
    agg.add_argument("--judgements", help="experiment, table5: people's judgements, for select.metric human")
    agg.add_argument("--agreement", help="findings: results/human/agreement.csv, for agrees_with_people claims")
    agg.add_argument("-o", "--output", required=True)

    fig = sub.add_parser("figures", help="figures of a planned study, from its tables (used by the workflow)")
    fig.add_argument("what", choices=["experiment", "results-array", "selection", "interaction"])
    fig.add_argument("experiment", nargs="?",
                     help="experiment name (for 'experiment', 'selection' and 'interaction')")
    fig.add_argument("--manifest", required=True)
    fig.add_argument("--results", default="results", help="results folder (runs/ and tables/ inside)")
    fig.add_argument("--grid", help="experiment: the image grid's PNG")
    fig.add_argument("--chart", help="experiment: the chart's PNG")
    fig.add_argument("--figure", help="selection, results-array, interaction: the figure's PNG")

    score = sub.add_parser("score", help="score a finished run with an evaluator (used by the workflow)")
    score.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder (image.png, run.json)")
    score.add_argument("--evaluator", default="gatys",
                       help="a built-in name (gatys, paper) or a JSON object {name, base, ...settings}; "
                            "default gatys")
    score.add_argument("-o", "--output", help="write the scores here (JSON); default: print them")
    score.add_argument("--content", help="content image (default: the one run.json names)")
    score.add_argument("--style", nargs="+", help="style image(s) (default: the one(s) run.json names; several: a blend)")
    score.add_argument("--weights-record", help="load the network's file that this record (nst weights --record) names")
    score.add_argument("--expect-hash", help="fail unless the evaluator hashes to this (the workflow's guard)")
    score.add_argument("--threads", type=int, default=1, help="CPU threads (0 = torch's default)")

    return {"aggregate": cmd_aggregate, "figures": cmd_figures, "score": cmd_score}


def _need(value, flag: str):
    if not value:
        raise NSTError(f"{flag} is required here")
    return value


def _results_array(manifest):
    """The manifest's results_array (its baseline and revised experiments); NSTError without one."""
    if manifest.results_array is None:
        raise NSTError("the config has no results_array (baseline and revised experiments)")
    return manifest.results_array


def _read_manifest(args):
    """The manifest with the halving resolved of the experiments this command reads, and only
    theirs: its job's inputs hold their decisions, not necessarily the others' (not made yet)."""
    from ..study.tables.halving import resolve
    from ..contracts.manifest import Manifest

    planned = Manifest.load(args.manifest)
    if args.what == "runs":
        read = None  # every experiment (the runs table's job waits for every decision)
    elif args.what in ("table5", "results-array"):
        array = planned.results_array
        read = [array.baseline, array.revised] if array else []
    elif args.what == "findings":
        from ..study.tables import findings

        read = findings.claimed_experiments(planned, findings.load_claims(_need(args.claims, "--claims")))
    else:
        read = [args.experiment] if args.experiment else []
    return resolve(planned, args.results, read)


def cmd_aggregate(args) -> int:
    from ..contracts import layout
    from ..study.tables import aggregate

    manifest = _read_manifest(args)  # halving's rungs read
    runs_dir = layout.runs_folder(args.results)
    if args.what in ("summary", "interactions", "findings"):
        aggregate.write_csv(_effects_table(args, manifest), args.output)
        return 0
    if args.what == "runs":
        table = aggregate.runs_table(manifest, runs_dir)
    elif args.what == "experiment":
        name = _need(args.experiment, "an experiment name")
        sub = manifest.restricted_to([name])  # reads only this experiment's runs
        table = aggregate.experiment_table(sub, aggregate.runs_table(sub, runs_dir), name,
                                           _people(args, manifest, name, runs_dir))
    else:
        array = _results_array(manifest)
        sub = manifest.restricted_to([array.baseline, array.revised])
        table = aggregate.table5(sub, aggregate.runs_table(sub, runs_dir),
                                 _people(args, manifest, array.revised, runs_dir))
    aggregate.write_csv(table, args.output)
    return 0


def _people(args, manifest, name: str, runs_dir) -> dict | None:
    """select.metric human: the judgements per pair of tuned experiment `name` (None: no file given)."""
    if not args.judgements or (manifest.experiment(name).select or {}).get("metric") != "human":
        return None
    from ..study.tables import human

    return human.people_choice(manifest, human.load(args.judgements, runs_dir), name)


def _effects_table(args, manifest):
    """summary, interactions or findings, from the experiment tables under --results."""
    from ..study.tables import findings, summary
    from ..study.tables.aggregate import read_csv
    from ..contracts.layout import table

    if args.what == "findings":
        path = _need(args.claims, "--claims")
        claims = findings.load_claims(path)
        tables = {name: read_csv(table(name, args.results)) for name in findings.claimed_experiments(manifest, claims)}
        agreement = read_csv(args.agreement) if args.agreement else None
        return findings.findings_table(manifest, claims, tables, path, agreement)
    name = _need(args.experiment, "an experiment name")
    manifest.experiment(name)  # an unknown name fails before its table is looked for
    exp_table = read_csv(table(name, args.results))
    make = summary.summary_table if args.what == "summary" else summary.interactions_table
    return make(manifest, exp_table, name)


def cmd_figures(args) -> int:
    from ..contracts import layout
    from ..study.figures import charts, run_grids as figures, selection_chart
    from ..study.tables.aggregate import read_csv

    manifest = _read_manifest(args)  # halving's rungs read
    runs_dir = layout.runs_folder(args.results)
    if args.what == "results-array":
        array = _results_array(manifest)
        compared = [read_csv(layout.table(name, args.results)) for name in (array.baseline, array.revised)]
        figures.results_array(manifest, read_csv(layout.table("table5", args.results)), runs_dir,
                              _need(args.figure, "--figure"), compared)
        return 0
    name = _need(args.experiment, "an experiment name")
    manifest.experiment(name)  # an unknown name fails before its table is looked for
    exp_table = read_csv(layout.table(name, args.results))
    if args.what == "experiment":
        figures.experiment_grid(manifest, exp_table, name, runs_dir, _need(args.grid, "--grid"))
        charts.experiment_chart(manifest, exp_table, name, runs_dir, _need(args.chart, "--chart"))
    elif args.what == "interaction":
        from ..study.figures.effect_charts import interaction_figure

        interaction_figure(manifest, exp_table, name, _need(args.figure, "--figure"))
    else:
        selection_chart.selection_figure(manifest, exp_table, name, _need(args.figure, "--figure"))
    return 0


def cmd_score(args) -> int:
    from ..files import parse_json_object, read_json_object, write_text
    from ..contracts.evaluators import make_evaluator

    if args.threads < 0:
        raise NSTError(f"--threads {args.threads}: expected a number of CPU threads >= 0 (0: torch's default)")
    spec = args.evaluator.strip()  # a name, or a JSON object
    evaluator = make_evaluator(parse_json_object(spec, "--evaluator") if spec.startswith("{") else spec,
                               "--evaluator")
    if args.expect_hash and evaluator.hash != args.expect_hash:
        raise NSTError(f"the evaluator hashes to {evaluator.hash}, not {args.expect_hash}: the workflow's "
                       f"plan and this nst disagree; re-run snakemake to re-plan")
    if args.output and args.content and args.style and not args.weights_record:
        from ..run.prescore import take_prescored

        taken = take_prescored(args.run_dir, evaluator.hash, args.content, args.style)
        if taken is not None:  # the run's own process scored exactly this: no torch needed
            write_text(args.output, json.dumps(taken, indent=1) + "\n")
            print(f"{evaluator.name} [{evaluator.hash}]: style {taken['scores']['style']:.4g}, "
                  f"content {taken['scores']['content']:.4g}, scored by the run's process -> {args.output}")
            return 0
    import torch

    from ..files import finite_or_null
    from ..run.score import score_run

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    record = read_json_object(args.weights_record, "--weights-record") if args.weights_record else {}
    weights_file = record.get("file")
    scores = score_run(args.run_dir, evaluator, content_path=args.content, style_path=args.style,
                       weights_file=weights_file)
    text = json.dumps(finite_or_null(scores), indent=1) + "\n"
    if args.output:
        write_text(args.output, text)
        print(f"{evaluator.name} [{evaluator.hash}]: style {scores['scores']['style']:.4g}, "
              f"content {scores['scores']['content']:.4g} in {scores['seconds']:.2f}s -> {args.output}")
    else:
        print(text, end="")
    return 0
