"""Commands around runs: `nst weights`, `nst presets`, `nst runner`, `nst forkserver`, `nst demo-images`."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import NSTError


def add_parsers(sub) -> dict:
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

    forkserver = sub.add_parser("forkserver", help="serve the workflow's `nst` jobs from one process that has "
                                "imported torch, pandas and matplotlib (started by the workflow)")
    forkserver.add_argument("--socket", required=True, help="the Unix socket to listen on")
    forkserver.add_argument("--parent-pid", type=int, help="stop when this process has exited")

    demo = sub.add_parser("demo-images", help="write the demo's content photographs")
    demo.add_argument("folder", nargs="?", default="images/demo/content")
    return {"weights": cmd_weights, "presets": cmd_presets, "runner": cmd_runner,
            "forkserver": cmd_forkserver, "demo-images": cmd_demo_images}


def weights_target(items: list[str]) -> tuple[str, str | None]:
    """(family, file or None) from `nst weights ACTION [FAMILY] [FILE]`; an empty FILE is none
    (the workflow passes execution.weights_file, maybe empty)."""
    from ..contracts.params import WEIGHT_SOURCES  # torch-free

    items = list(items)
    family = items.pop(0) if items and items[0] in WEIGHT_SOURCES else "imagenet"
    if len(items) > 1:
        raise NSTError(f"nst weights: expected [FAMILY] [FILE], got {' '.join(map(repr, items))}; "
                       f"families: {', '.join(WEIGHT_SOURCES)}")
    return family, (items[0] or None) if items else None


def cmd_weights(args) -> int:
    from ..files import write_text
    from ..run import weights

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
    """Each preset as YAML a config can take (layers by their standard names: the same run ids),
    with how it differs from the baseline; a preset the paper defines in the tutorial's sequential
    layer names shows those with the standard name beside them ("conv_4 (conv2_2)")."""
    import yaml

    from ..contracts.layers import LAYER_INDEX, paper_name, standard_name
    from ..contracts.params import RunParams
    from ..contracts.presets import NOTES, PRESETS, differences, preset

    layer_keys = ("content_layers", "style_layers")

    def sequential(of: str) -> bool:  # the preset is defined in the tutorial's sequential names
        return any(str(n) in LAYER_INDEX for k in layer_keys for n in PRESETS[of].get(k, ()))

    def text(key, value, of: str) -> str:
        if key not in layer_keys or not value:
            return f"{value}"
        return f"[{', '.join(map(paper_name if sequential(of) else standard_name, value))}]"

    for name in NOTES:
        print(f"# {name}: {NOTES[name]}")
        if sequential(name):
            content, style = (text(k, preset(name).settings()[k], name) for k in layer_keys)
            print(f"# layers in the paper's names (the PyTorch tutorial's sequential count), the standard names "
                  f"beside them: content {content}, style {style}")
        if name != "baseline":
            changed = ", ".join(f"{k} {text(k, new, name)} (baseline: {text(k, old, 'baseline')})"
                                for k, (new, old) in differences(name).items())
            print(f"# differs from baseline in: {changed}")
        params = preset(name)
        settings = params.settings()
        settings.update({k: [standard_name(n) for n in settings[k]] for k in layer_keys})
        if "lbfgs_bounds" not in settings and params.lbfgs_bounds != RunParams().lbfgs_bounds:
            # not part of an Adam preset's run id, but what a trial switching it to L-BFGS gets
            settings["lbfgs_bounds"] = params.lbfgs_bounds
        print(yaml.safe_dump({name: settings}, sort_keys=False, default_flow_style=None))
    return 0


def cmd_runner(args) -> int:
    from ..execution.process import skip_dynamo_import
    from ..execution.runner import serve

    if args.batch_size < 1:
        raise NSTError("--batch-size must be >= 1")
    if args.threads < 0:
        raise NSTError(f"--threads {args.threads}: expected a number of CPU threads >= 0 (0: torch's default)")
    skip_dynamo_import()
    serve(args.spool, args.batch_size, args.parent_pid, args.idle_exit, args.threads)
    return 0


def cmd_forkserver(args, command) -> int:
    """`command`: what each child runs, the CLI's main (handed in by nst.cli, above this module)."""
    from ..execution.forkserver import available, serve

    if not available():
        raise NSTError("nst forkserver needs POSIX sockets that pass file descriptors (Linux only)")
    serve(args.socket, command, args.parent_pid)
    return 0


def cmd_demo_images(args) -> int:
    from ..study.demo import write_demo_images

    for path in write_demo_images(Path(args.folder)):
        print(path)
    return 0
