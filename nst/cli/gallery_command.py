"""`nst gallery`: the study's gallery page (used by the workflow, workflow/rules/gallery.smk):
one run's card (thumbnail and loss curve), and the page's folder from the study's tables."""
from __future__ import annotations


def add_parsers(sub) -> dict:
    gallery = sub.add_parser("gallery", help="the study's gallery page (used by the workflow)")
    what = gallery.add_subparsers(dest="what", required=True)
    card = what.add_parser("card", help="one finished run's card: thumbnail (WebP) and loss curve (JS)")
    card.add_argument("run_dir", metavar="RUN_DIR", help="a finished run's folder (image.png, history.csv)")
    card.add_argument("--key", required=True, help="CONTENT/STYLE/RUN_ID: the run's name in the page")
    card.add_argument("--thumb", required=True, help="the thumbnail to write (.webp)")
    card.add_argument("--curve", required=True, help="the curve script to write (.js)")
    build = what.add_parser("build", help="the gallery's folder (index.html, data.js, the runs' files)")
    build.add_argument("--manifest", required=True)
    build.add_argument("--results", default="results", help="results folder (tables/, runs/, cards/ inside)")
    build.add_argument("-o", "--output", required=True, help="the gallery's folder (replaced)")
    return {"gallery": cmd_gallery}


def cmd_gallery(args) -> int:
    if args.what == "card":
        from ..study.gallery.cards import write_card

        write_card(args.run_dir, args.key, args.thumb, args.curve)
        return 0
    from ..study.gallery.build import build_gallery
    from ..study.tables.halving import load_manifest

    manifest = load_manifest(args.manifest, args.results)  # halving's rungs read: stopped candidates
    out = build_gallery(manifest, args.results, args.output)
    print(f"gallery: {out}/index.html")
    return 0
