"""`nst halving`: successive halving's decision at one rung of a tuned experiment (used by the
workflow's checkpoint rule halving_rung)."""
from __future__ import annotations


def add_parsers(sub) -> dict:
    rung = sub.add_parser("halving", help="which candidates of a halving experiment go on after a rung")
    rung.add_argument("experiment", help="a tuned experiment with schedule: halving")
    rung.add_argument("--rung", type=int, required=True, help="the rung (0 = min_iterations)")
    rung.add_argument("--manifest", required=True)
    rung.add_argument("--results", default="results", help="results folder (runs/ and tune/ inside)")
    rung.add_argument("-o", "--output", required=True, help="the decision (JSON)")
    return {"halving": cmd_halving}


def cmd_halving(args) -> int:
    from ..errors import NSTError
    from ..contracts import layout
    from ..study.tables import halving
    from ..contracts.manifest import Manifest

    manifest = Manifest.load(args.manifest)
    if not halving.is_halving(manifest, args.experiment):
        raise NSTError(f"experiment {args.experiment!r} has no schedule: halving")
    decisions = halving.read_decisions(args.experiment, args.rung, args.results)
    decision = halving.decide(manifest, args.experiment, args.rung, layout.runs_folder(args.results), decisions)
    halving.write_decision(decision, args.output)
    kept = sum(len(p["promoted"]) for p in decision["pairs"].values())
    print(f"{args.experiment}: rung {args.rung} ({decision['iterations']} iterations): {kept} of "
          f"{sum(len(p['candidates']) for p in decision['pairs'].values())} go on to {decision['next_iterations']}")
    return 0
