"""`nst figures-layers`: the per-layer figures of a planned study (used by the workflow,
workflow/rules/layers.smk): every experiment's per-layer loss trajectories, and a `reconstruct`
experiment's layer reconstructions."""
from __future__ import annotations


def add_parsers(sub) -> dict:
    fig = sub.add_parser("figures-layers", help="per-layer figures of a planned study (used by the workflow)")
    fig.add_argument("what", choices=["layers", "reconstruction"],
                     help="layers: each layer's loss over iterations, one panel per run; "
                          "reconstruction: a reconstruct experiment's images (Gatys et al. 2016, Fig. 1)")
    fig.add_argument("experiment", help="experiment name")
    fig.add_argument("--manifest", required=True)
    fig.add_argument("--results", default="results", help="results folder (runs/ inside)")
    fig.add_argument("-o", "--output", required=True, help="the figure's PNG")
    return {"figures-layers": cmd_figures_layers}


def cmd_figures_layers(args) -> int:
    from ..contracts import layout
    from ..study.tables.halving import load_manifest

    manifest = load_manifest(args.manifest, args.results, [args.experiment])  # its halving's rungs, not others
    runs_dir = layout.runs_folder(args.results)
    if args.what == "layers":
        from ..study.figures.layer_charts import layer_chart

        layer_chart(manifest, args.experiment, runs_dir, args.output)
    else:
        from ..study.figures.reconstruction import reconstruction_figure

        reconstruction_figure(manifest, args.experiment, runs_dir, args.output)
    return 0
