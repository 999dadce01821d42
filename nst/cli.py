"""The `nst` command: parses arguments and calls the library. Errors print one line, no traceback."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .errors import NSTError

# `nst run` has a flag for every RunParams field (--style-weight, --lbfgs-history, ...), parsed
# and checked by RunParams as --set's values are; these three also answer to neural-style's names.
NEURAL_STYLE_FLAGS = {"iterations": "--num-iterations", "lr": "--learning-rate", "size": "--image-size"}


def add_param_flags(run: argparse.ArgumentParser) -> None:
    """One flag per RunParams field (dest: the field's name), with its allowed values as help."""
    from .run import params as p

    choices = {"loss": p.LOSSES, "optimizer": p.OPTIMIZERS, "pooling": p.POOLINGS, "resize": p.RESIZES,
               "precision": p.PRECISIONS, "init": (*p.INITS, "path to an image"),
               "weights": (*p.WEIGHT_SOURCES, "path to a state dict"),
               "device": ("auto", "cpu", "cuda", "cuda:N", "mps"), "channels_last": ("auto", "true", "false")}
    notes = {"content_layers": "comma-separated, e.g. conv_4 or relu4_2",
             "style_layers": "comma-separated, e.g. conv_1,conv_2,conv_3",
             "snapshots": "comma-separated iterations to save (or --save-iter)",
             "weights_file": "imagenet: a local copy of torchvision's VGG-19 file; caffe: a Caffe VGG-19 file",
             "threads": "CPU threads (0 = torch's default)", **{k: " | ".join(v) for k, v in choices.items()}}
    group = run.add_argument_group("run parameters", "one flag per parameter; --set KEY=VALUE overrides them")
    for key in p.FIELD_NAMES:
        flags = [NEURAL_STYLE_FLAGS[key]] if key in NEURAL_STYLE_FLAGS else []
        group.add_argument(*flags, f"--{key.replace('_', '-')}", dest=key, metavar=key.upper(), help=notes.get(key))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nst", description="Gatys-style neural style transfer runs.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one style-transfer run into OUTDIR")
    run.add_argument("content", nargs="?", help="content image")
    run.add_argument("style", nargs="?", help="style image")
    run.add_argument("-o", "--outdir", required=True, help="folder for image.png, history.csv, run.json")
    run.add_argument("--preset", default="baseline", help="baseline | revised | tutorial (default: baseline)")
    run.add_argument("--params", metavar="RUN_JSON", help="re-run from a run.json (or a JSON file of parameters)")
    run.add_argument("--params-json", metavar="JSON", help="parameters as a JSON object (used by the workflow)")
    run.add_argument("--execution", metavar="JSON_FILE",
                     help="execution settings (device, threads, weights_file, ...) from a file (used by the workflow)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any parameter, repeatable")
    add_param_flags(run)
    run.add_argument("--save-iter", type=int, default=0, help="save a snapshot every N iterations")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a finished run in OUTDIR (without it, another finished run there is an error)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    run.add_argument("--from-trajectory", metavar="RUN_DIR",
                     help="write this run from the snapshot of a longer run with otherwise equal settings")
    run.add_argument("--expect-run-id", help="fail unless the parameters hash to this run id (the workflow's guard)")

    weights = sub.add_parser("weights", help="list the weights families; fetch or verify one")
    weights.add_argument("action", choices=["list", "fetch", "verify"])
    weights.add_argument("target", nargs="*", metavar="[FAMILY] [FILE]",
                         help="imagenet (default) | caffe | random, then optionally a file to check instead "
                              "of the one runs would use (a lone FILE is an ImageNet file)")
    weights.add_argument("--no-features-only", action="store_true",
                         help="fetch: do not write the features-only copy")
    weights.add_argument("--record", help="write a JSON record of the verified file here")

    sub.add_parser("presets", help="print the presets")

    runner = sub.add_parser("runner", help="compute runs handed over by `nst run` jobs, in batches")
    runner.add_argument("--spool", required=True, help="folder of the request queue")
    runner.add_argument("--batch-size", type=int, default=8)
    runner.add_argument("--parent-pid", type=int, help="stop when this process has exited")
    runner.add_argument("--idle-exit", type=float, help="stop after this many idle seconds")
    runner.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch's default)")

    agg = sub.add_parser("aggregate", help="tables of a planned study (used by the workflow)")
    agg.add_argument("what", choices=["runs", "experiment", "table5"])
    agg.add_argument("experiment", nargs="?", help="experiment name (for 'experiment')")
    agg.add_argument("--manifest", required=True)
    agg.add_argument("--results", default="results", help="results folder (runs/ inside)")
    agg.add_argument("-o", "--output", required=True)

    fig = sub.add_parser("figures", help="figures of a planned study, from its tables (used by the workflow)")
    fig.add_argument("what", choices=["experiment", "results-array", "selection"])
    fig.add_argument("experiment", nargs="?", help="experiment name (for 'experiment' and 'selection')")
    fig.add_argument("--manifest", required=True)
    fig.add_argument("--results", default="results", help="results folder (runs/ and tables/ inside)")
    fig.add_argument("--grid", help="experiment: the image grid's PNG")
    fig.add_argument("--chart", help="experiment: the chart's PNG")
    fig.add_argument("--figure", help="selection, results-array: the figure's PNG")

    score = sub.add_parser("score", help="score a finished run with an evaluator (used by the workflow)")
    score.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder (image.png, run.json)")
    score.add_argument("--evaluator", default="gatys",
                       help="a built-in name (gatys, paper) or a JSON object {name, base, ...settings}; "
                            "default gatys")
    score.add_argument("-o", "--output", help="write the scores here (JSON); default: print them")
    score.add_argument("--content", help="content image (default: the one run.json names)")
    score.add_argument("--style", help="style image (default: the one run.json names)")
    score.add_argument("--weights-record", help="load the network's file that this record (nst weights --record) names")
    score.add_argument("--expect-hash", help="fail unless the evaluator hashes to this (the workflow's guard)")
    score.add_argument("--threads", type=int, default=1, help="CPU threads (0 = torch's default)")

    demo = sub.add_parser("demo-images", help="write the demo's content photographs")
    demo.add_argument("folder", nargs="?", default="images/demo/content")
    return parser


def parse_sets(items: list[str]) -> dict[str, str]:
    """{KEY: VALUE} of the --set items; NSTError for an item that is not KEY=VALUE."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NSTError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def run_params_from_args(args):
    """(RunParams, content path, style path) from presets, --params, flags and --set (later ones
    override earlier ones). Raises ParamsError, InputError (a file or JSON that cannot be read)
    or NSTError (no images)."""
    from .files import parse_json_object, read_json_object
    from .run.outputs import image_named
    from .run.params import FIELD_NAMES, RunParams
    from .run.presets import preset

    content, style = args.content, args.style
    if args.params:
        record = read_json_object(args.params, "--params file")
        params = RunParams.from_dict(record.get("params", record))
        content, style = content or image_named(record, "content"), style or image_named(record, "style")
    else:
        params = preset(args.preset)
    if args.params_json:
        params = RunParams.from_dict(parse_json_object(args.params_json, "--params-json"), base=params)
    if args.execution:
        params = RunParams.from_dict(read_json_object(args.execution, "--execution file"), base=params)
    flags = {key: getattr(args, key) for key in FIELD_NAMES if getattr(args, key) is not None}
    changes = {**flags, **parse_sets(args.set)}
    if changes:
        params = RunParams.from_dict(changes, base=params)
    if args.save_iter < 0:
        raise NSTError(f"--save-iter {args.save_iter}: expected a number of iterations >= 1 (0: none)")
    if args.save_iter and "snapshots" not in changes:
        params = params.replace(snapshots=list(range(args.save_iter, params.iterations + 1, args.save_iter)))
    if args.weights_file and params.weights == "caffe":  # --weights-file names the chosen family's file
        params = params.replace(caffe_weights_file=args.weights_file, weights_file=None)
    if not content or not style:
        raise NSTError("nst run needs CONTENT and STYLE images (or --params with a run.json that names them)")
    return params, content, style


class Progress:
    """A single updating line on a terminal; silent when stderr is not a TTY."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.last = total, enabled and sys.stderr.isatty(), 0.0

    def __call__(self, row: dict) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.5 and row["iteration"] != self.total):
            return
        self.last = now
        rate = row["iteration"] / max(row["seconds"], 1e-9)
        sys.stderr.write(
            f"\r  iter {row['iteration']}/{self.total}  total {row['total']:.4g}  "
            f"content {row['content']:.4g}  style {row['style']:.4g}  {rate:.1f} it/s "
        )
        if row["iteration"] == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_run(args) -> int:
    params, content, style = run_params_from_args(args)
    if args.expect_run_id and params.run_id != args.expect_run_id:
        raise NSTError(f"parameters hash to run id {params.run_id}, not {args.expect_run_id}: the "
                       f"workflow's plan and this nst disagree; re-run snakemake to re-plan")
    from .run.outputs import check_outdir

    if not check_outdir(args.outdir, params.run_id, args.overwrite):
        print(f"{params.run_id}: already finished in {args.outdir} (--overwrite recomputes it)")
        return 0
    if args.from_trajectory:
        from .study.trajectory import derive_run

        derive_run(args.from_trajectory, params.iterations, args.outdir, expected_run_id=params.run_id)
        print(f"{params.run_id}: written from the trajectory of {args.from_trajectory} -> {args.outdir}")
        return 0
    if params.uses_random_weights:
        print("nst: warning: weights=random: seeded random VGG-19, for tests and smoke runs; "
              "outputs are not real style transfer", file=sys.stderr)
    from .execution.runner import RUNNER_VARIABLE, submit  # torch-free

    if os.environ.get(RUNNER_VARIABLE):  # the workflow's batching runner computes it
        print(submit(os.environ[RUNNER_VARIABLE], params, content, style, args.outdir))
        return 0
    from .execution.process import skip_dynamo_import

    skip_dynamo_import()
    from .run.engine import stylize
    from .run.outputs import write_run

    result = stylize(params, content, style, progress=Progress(params.iterations, not args.quiet),
                     outdir=args.outdir)  # saves its state there, and resumes from one
    outdir = write_run(result, args.outdir)
    print(f"{params.run_id}: {result.outcome()}, total loss {result.final['total']:.6g}, "
          f"{result.timing['seconds']:.1f}s on {result.device} -> {outdir}")
    return 0




def weights_target(items: list[str]) -> tuple[str, str | None]:
    """(family, file or None) from `nst weights ACTION [FAMILY] [FILE]`; an empty FILE is none
    (the workflow passes execution.weights_file, maybe empty)."""
    from .run.params import WEIGHT_SOURCES  # torch-free

    items = list(items)
    family = items.pop(0) if items and items[0] in WEIGHT_SOURCES else "imagenet"
    if len(items) > 1:
        raise NSTError(f"nst weights: expected [FAMILY] [FILE], got {' '.join(map(repr, items))}; "
                       f"families: {', '.join(WEIGHT_SOURCES)}")
    return family, (items[0] or None) if items else None


def cmd_weights(args) -> int:
    from .files import write_text
    from .run import weights

    if args.action == "list":
        for row in weights.weights_families():
            where = f"  {row['file']}" if row["file"] else ""
            print(f"{row['family']:<9} {row['status']:<9} {row['source']}{where}  ({row['note']})")
        return 0
    family, file = weights_target(args.target)
    record, summary = weights.check_family(family, file, fetch=args.action == "fetch",
                                           features_only=not args.no_features_only)
    print(summary)
    if args.record:
        write_text(args.record, json.dumps(record, indent=2) + "\n")
    return 0


def cmd_presets(args) -> int:
    import yaml

    from .run.presets import NOTES, preset

    for name in NOTES:
        print(f"# {name}: {NOTES[name]}")
        identity = preset(name).identity()
        identity.pop("weights")
        print(yaml.safe_dump({name: identity}, sort_keys=False, default_flow_style=None))
    return 0


def _need(value, flag: str):
    if not value:
        raise NSTError(f"{flag} is required here")
    return value


def _results_array(manifest):
    """The manifest's results_array (its baseline and revised experiments); NSTError without one."""
    if manifest.results_array is None:
        raise NSTError("the config has no results_array (baseline and revised experiments)")
    return manifest.results_array


def cmd_aggregate(args) -> int:
    from .study import aggregate, layout
    from .study.manifest import Manifest

    manifest = Manifest.load(args.manifest)
    runs_dir = layout.runs_folder(args.results)
    if args.what == "runs":
        table = aggregate.runs_table(manifest, runs_dir)
    elif args.what == "experiment":
        name = _need(args.experiment, "an experiment name")
        sub = manifest.restricted_to([name])  # reads only this experiment's runs
        table = aggregate.experiment_table(sub, aggregate.runs_table(sub, runs_dir), name)
    else:
        array = _results_array(manifest)
        sub = manifest.restricted_to([array.baseline, array.revised])
        table = aggregate.table5(sub, aggregate.runs_table(sub, runs_dir))
    aggregate.write_csv(table, args.output)
    return 0


def cmd_figures(args) -> int:
    from .study import charts, figures, layout
    from .study.aggregate import read_csv
    from .study.manifest import Manifest

    manifest = Manifest.load(args.manifest)
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
    else:
        charts.selection_figure(manifest, exp_table, name, _need(args.figure, "--figure"))
    return 0


def cmd_score(args) -> int:
    from .files import parse_json_object, read_json_object, write_text
    from .run.evaluate import make_evaluator

    spec = args.evaluator.strip()  # a name, or a JSON object
    evaluator = make_evaluator(parse_json_object(spec, "--evaluator") if spec.startswith("{") else spec,
                               "--evaluator")
    if args.expect_hash and evaluator.hash != args.expect_hash:
        raise NSTError(f"the evaluator hashes to {evaluator.hash}, not {args.expect_hash}: the workflow's "
                       f"plan and this nst disagree; re-run snakemake to re-plan")
    import torch

    from .files import finite_or_null
    from .run.score import score_run

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


def cmd_runner(args) -> int:
    from .execution.process import skip_dynamo_import
    from .execution.runner import serve

    if args.batch_size < 1:
        raise NSTError("--batch-size must be >= 1")
    skip_dynamo_import()
    serve(args.spool, args.batch_size, args.parent_pid, args.idle_exit, args.threads)
    return 0


def cmd_demo_images(args) -> int:
    from .study.demo import write_demo_images

    for path in write_demo_images(Path(args.folder)):
        print(path)
    return 0


JOB_COMMANDS = ("run", "runner")  # processes that optimise (nst/execution/process.py)
COMMANDS = {
    "run": cmd_run, "weights": cmd_weights, "presets": cmd_presets,
    "aggregate": cmd_aggregate, "figures": cmd_figures, "demo-images": cmd_demo_images,
    "runner": cmd_runner, "score": cmd_score,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in JOB_COMMANDS:
        from .execution.process import keep_freed_memory

        keep_freed_memory()  # before torch is imported and allocates
    try:
        return COMMANDS[args.command](args)
    except NSTError as err:  # the user's mistake, told in one line; anything else is a bug: traceback
        print(f"nst: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
