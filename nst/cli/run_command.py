"""`nst run`: one style-transfer run from a preset, a run.json, flags and --set."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import NSTError, OutputError

# `nst run` has a flag for every RunParams field (--style-weight, --lbfgs-history, ...), parsed
# and checked by RunParams as --set's values are; these three also answer to neural-style's names.
NEURAL_STYLE_FLAGS = {"iterations": "--num-iterations", "lr": "--learning-rate", "size": "--image-size"}


def add_param_flags(run: argparse.ArgumentParser) -> None:
    """One flag per RunParams field (dest: the field's name), with its allowed values as help."""
    from ..contracts import params as p

    choices = {"loss": p.LOSSES, "optimizer": p.OPTIMIZERS, "pooling": p.POOLINGS, "resize": p.RESIZES,
               "precision": p.PRECISIONS, "init": (*p.INITS, "path to an image"),
               "weights": (*p.WEIGHT_SOURCES, "path to a state dict"),
               "device": ("auto", "cpu", "cuda", "cuda:N", "mps"), "channels_last": ("auto", "true", "false"),
               "gram_norm": p.GRAM_NORMS, "style_loss": p.STYLE_LOSSES, "color": p.COLORS, "shift_mode": p.SHIFT_MODES,
               "lbfgs_bounds": p.LBFGS_BOUNDS}
    notes = {"content_layers": "comma-separated, e.g. relu4_2 (or the paper's conv_4, which is conv2_2)",
             "style_layers": "comma-separated, e.g. relu1_1,relu2_1,relu3_1 (or the paper's conv_1,conv_2,...)",
             "snapshots": "comma-separated iterations to save (or --save-iter)",
             "weights_file": "imagenet: a local copy of torchvision's VGG-19 file; caffe: a Caffe VGG-19 file",
             "threads": "CPU threads (0 = torch's default)",
             "max_memory_gb": "memory a run may use (GB); above it the run is tiled, exactly (0: 80 %% of what is free)",
             "tile_size": "inner tile side in px (0: untiled when the run fits max_memory_gb)",
             "style_layer_weights": "gatys (1e3/n^2) or comma-separated, one per style layer",
             "style_blend_weights": "comma-separated, one per style image (neural-style's -style_blend_weights)",
             "scales": "comma-separated sizes run before --size, coarse to fine, e.g. 128,256",
             "scale_iterations": "iterations at each coarser scale (one number, or one per scale)",
             "tv_weight": "total-variation weight (0: off)", "style_scale": "style size relative to the output's",
             "init_noise": "share of seeded noise mixed into the start, in [0, 1]",
             **{k: " | ".join(v) for k, v in choices.items()}}
    group = run.add_argument_group("run parameters", "one flag per parameter; --set KEY=VALUE overrides them")
    for key in p.FIELD_NAMES:
        flags = [NEURAL_STYLE_FLAGS[key]] if key in NEURAL_STYLE_FLAGS else []
        group.add_argument(*flags, f"--{key.replace('_', '-')}", dest=key, metavar=key.upper(), help=notes.get(key))



def add_parsers(sub) -> dict:
    run = sub.add_parser("run", help="one style-transfer run into OUTDIR")
    run.add_argument("content", nargs="?", help="content image")
    run.add_argument("style", nargs="*", help="style image; several make a blend (weights: --style-blend-weights, "
                                             "default equal, as neural-style's -style_image a.jpg,b.jpg)")
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
    run.add_argument("--resume-from", metavar="RUN_DIR",
                     help="continue a finished run with otherwise equal settings and fewer iterations from "
                          "its last state (it must have a snapshot at its last iteration)")
    run.add_argument("--expect-run-id", help="fail unless the parameters hash to this run id (the workflow's guard)")

    return {"run": cmd_run}


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
    """(RunParams, content path, style path(s)) from presets, --params, flags and --set (later ones
    override earlier ones); several style images: a list, with the blend's weights in the params. Raises ParamsError, InputError (a file or JSON that cannot be read)
    or NSTError (no images)."""
    from ..files import parse_json_object, read_json_object
    from ..contracts.run_folder import image_named
    from ..contracts.params import FIELD_NAMES, RunParams
    from ..contracts.presets import preset

    content, style = args.content, list(args.style)
    if args.params:
        record = read_json_object(args.params, "--params file")
        params = RunParams.from_dict(record.get("params", record))
        content, style = content or image_named(record, "content"), style or styles_named(record)
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
    if not content or not style or not all(style):
        raise NSTError("nst run needs CONTENT and STYLE images (or --params with a run.json that names them)")
    params, style = blend(params, style)
    return params, content, style


def styles_named(record: dict) -> list[str]:
    """The style image(s) a run.json names: every image of a blend, else its one style."""
    from ..contracts.run_folder import image_named

    blended = [entry.get("path") for entry in record.get("styles") or [] if isinstance(entry, dict)]
    return blended or [path for path in [image_named(record, "style")] if path]


def blend(params, styles: list[str]):
    """(params, style) for one style image, (params with the blend's weights, styles) for
    several; NSTError when the weights do not match the images."""
    weights = params.style_blend_weights
    if len(styles) == 1 and weights is None:
        return params, styles[0]
    if weights is None:
        params = params.replace(style_blend_weights=[1.0] * len(styles))  # equal, as neural-style
    elif len(weights) != len(styles):
        raise NSTError(f"style_blend_weights has {len(weights)} weights for {len(styles)} style images; "
                       f"give one per style image")
    return params, styles


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
    if not args.outdir.strip():  # Path("") is the current folder: a run would land there unasked
        raise OutputError(f"-o {args.outdir!r} names no folder; give the folder for the run's files "
                          "(-o . for the current one)")
    params, content, style = run_params_from_args(args)
    if args.expect_run_id and params.run_id != args.expect_run_id:
        raise NSTError(f"parameters hash to run id {params.run_id}, not {args.expect_run_id}: the "
                       f"workflow's plan and this nst disagree; re-run snakemake to re-plan")
    from ..files import run_folder_lock

    # the folder first: one that cannot be made or written, or that another run is writing,
    # is told before any computing; the lock is held until this run's files are in
    with run_folder_lock(args.outdir):
        return run_into_folder(args, params, content, style)


def run_into_folder(args, params, content, style) -> int:
    from ..contracts.run_folder import check_outdir, inputs_now

    made = inputs_now(params, content, style)  # the images, by content: what the run is made from
    if not check_outdir(args.outdir, params.run_id, made, args.overwrite, paths=(content, style)):
        print(f"{params.run_id}: already finished in {args.outdir} (--overwrite recomputes it)")
        return 0
    if args.from_trajectory:
        from ..study.plan.trajectory import derive_run

        derive_run(args.from_trajectory, params.iterations, args.outdir, expected_run_id=params.run_id, made=made)
        print(f"{params.run_id}: written from the trajectory of {args.from_trajectory} -> {args.outdir}")
        return 0
    if params.uses_random_weights:
        print("nst: warning: weights=random: seeded random VGG-19, for tests and smoke runs; "
              "outputs are not real style transfer", file=sys.stderr)
    from ..execution.runner import RUNNER_VARIABLE, submit  # torch-free

    if os.environ.get(RUNNER_VARIABLE) and not args.resume_from:  # the batching runner computes it (it never resumes)
        print(submit(os.environ[RUNNER_VARIABLE], params, content, style, args.outdir))
        return 0
    from ..execution.process import skip_dynamo_import

    skip_dynamo_import()
    from ..run.engine import stylize
    from ..run.writer import write_run

    result = stylize(params, content, style, progress=Progress(params.total_iterations, not args.quiet),
                     outdir=args.outdir, continue_from=args.resume_from)  # saves its state there, and resumes from one
    outdir = write_run(result, args.outdir)
    print(f"{params.run_id}: {result.outcome()}, total loss {result.final['total']:.6g}, "
          f"{result.timing['seconds']:.1f}s on {result.device} -> {outdir}")
    from ..run.prescore import requests_from_environment

    requests = requests_from_environment()  # the workflow's evaluators: score here, torch is loaded
    if requests:
        from ..run.score import prescore

        prescore(outdir, requests, content, style)
    return 0
