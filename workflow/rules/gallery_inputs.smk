# Input functions and targets of the gallery (workflow/rules/gallery.smk).


def card_run_folder(wildcards, input):
    """The run folder a card is made from."""
    return os.path.dirname(input.record)


def card_key(wildcards):
    """The run's key as the gallery names it: <content>/<style>/<run_id>."""
    return f"{wildcards.content}/{wildcards.style}/{wildcards.run_id}"


def gallery_run_keys():
    """Every run the tables list: each trial's, a halving experiment's as its decisions leave them."""
    return sorted({k for name in PLAN.experiments for k in experiment_run_keys(name)})


def gallery_cards(wildcards):
    runs = [PLAN.runs[k] for k in gallery_run_keys()]
    return [layout.card_file(r.content, r.style, r.run_id, name) for r in runs for name in (layout.THUMB, layout.CURVE)]


def gallery_run_files(wildcards):
    """The runs' own files the gallery links in (image, record), and halving's decisions."""
    runs = [PLAN.runs[k] for k in gallery_run_keys()]
    decisions = [f for name in halving_experiments() for f in decision_files(name)]
    return [run_file(r, name) for r in runs for name in (layout.IMAGE, layout.RECORD)] + decisions


def gallery_tables(wildcards):
    """The tuned experiments' tables: which candidate each pair selected."""
    return [layout.table(name) for name in tuned_experiments()]


def gallery_images(wildcards):
    """The content and style images the detail view shows beside a run."""
    return sorted(set(PLAN.content_images.values()) | set(PLAN.style_images.values()))


def gallery_targets(wildcards=None):
    return [layout.GALLERY]
