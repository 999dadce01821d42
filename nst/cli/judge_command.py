"""`nst judge` (the rating page, or --export of what it stored) and `nst human` (the workflow's
tables and charts of the judgements: nst/study/human*.py)."""
from __future__ import annotations

import signal
import sys

from ..errors import NSTError


def add_parsers(sub) -> dict:
    judge = sub.add_parser("judge", help="serve the rating page of a study's outputs (people's judgements)")
    judge.add_argument("--results", default="results", help="the study's results folder (default: results)")
    judge.add_argument("--host", default="127.0.0.1",
                       help="address to listen on and to print in the URL (default 127.0.0.1: this machine "
                            "only; for a lab, this machine's name or IP on the lab's network)")
    judge.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    judge.add_argument("--rater", action="append", default=[], metavar="NAME",
                       help="print a link of its own for this rater (its token fixes the name); repeatable")
    judge.add_argument("--questions", default="overall",
                       help="comma-separated, asked in this order for each comparison: overall (which is "
                            "the better style transfer), content (keeps the content better), style (has "
                            "more of the style); default overall")
    judge.add_argument("--experiment", action="append", default=[], metavar="NAME",
                       help="only this experiment's comparisons (repeatable; default: every experiment)")
    judge.add_argument("--scope", default="experiment", choices=["experiment", "pair"],
                       help="what is compared: the runs of one experiment and pair (default), or every run of a pair")
    judge.add_argument("--export", metavar="FILE", help="write the stored judgements as CSV ('-': to stdout) and exit")

    human = sub.add_parser("human", help="tables and charts of people's judgements (used by the workflow)")
    human.add_argument("what", choices=["rankings", "agreement"])
    human.add_argument("--manifest", required=True)
    human.add_argument("--results", default="results", help="results folder (runs/ and tables/ inside)")
    human.add_argument("--judgements", required=True, help="the judgements database (results/judgements.sqlite)")
    human.add_argument("-o", "--output", required=True, help="the table (CSV)")
    human.add_argument("--figure", required=True, help="the chart (PNG)")
    human.add_argument("--reliability", help="agreement: the raters' reliability table (CSV)")
    return {"judge": cmd_judge, "human": cmd_human}


def cmd_judge(args) -> int:
    from ..contracts import layout

    if args.export:
        return _export(layout.judgements(args.results), args.export)
    from ..judge.catalog import build_catalog
    from ..judge.server import Judge, page_url, serve
    from ..judge.store import Store

    if not 0 <= args.port <= 65535:
        raise NSTError(f"--port {args.port}: expected 0 (any free port) to 65535")
    questions = tuple(q.strip() for q in args.questions.split(",") if q.strip())
    catalog = build_catalog(args.results, args.scope, args.experiment)
    store = Store(layout.judgements(args.results))
    try:
        judge = Judge(catalog, store, questions, tuple(args.rater))
        server = serve(judge, args.host, args.port)
    except NSTError:
        store.close()
        raise
    print(page_url(server, args.host, judge.main_token), flush=True)  # the first line: scripts read it
    for token, rater in judge.tokens.items():
        if rater is not None:
            print(f"rater {rater}: {page_url(server, args.host, token)}", flush=True)
    for note in catalog.notes:
        print(f"nst judge: {note}", file=sys.stderr)
    print(f"nst judge: {len(catalog.comparisons)} comparisons in {len(catalog.groups)} groups; judgements go to "
          f"{store.path} ({store.count()} so far); Ctrl-C stops", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def _export(path: str, output: str) -> int:
    from ..files import atomic_path
    from ..study.tables.judgements import read_judgements

    frame = read_judgements(path)
    if output == "-":
        frame.to_csv(sys.stdout, index=False)
    else:
        with atomic_path(output) as tmp:
            frame.to_csv(tmp, index=False)
        print(f"{len(frame)} judgements -> {output}", file=sys.stderr)
    return 0


def cmd_human(args) -> int:
    from ..study.tables import human, human_agreement
    from ..study.figures import human_charts
    from ..study.tables.aggregate import read_csv, write_csv
    from ..study.tables.halving import load_manifest
    from ..contracts.layout import runs_folder, table

    manifest = load_manifest(args.manifest, args.results)
    runs_dir = runs_folder(args.results)
    judged = human.load(args.judgements, runs_dir)
    if args.what == "rankings":
        rankings = human.rankings_table(manifest, judged)
        write_csv(rankings, args.output)
        human_charts.rankings_chart(manifest, rankings, args.figure)
        return 0
    if not args.reliability:
        raise NSTError("nst human agreement: --reliability is required")
    runs = read_csv(table("runs", args.results))
    agreement = human_agreement.agreement_table(manifest, judged, runs)
    write_csv(agreement, args.output)
    write_csv(human_agreement.reliability_table(judged), args.reliability)
    human_charts.agreement_chart(agreement, args.figure)
    return 0
