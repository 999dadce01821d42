# Input functions of people's judgements (workflow/rules/human.smk). `nst judge` writes
# results/judgements.sqlite; it is an input only where it exists, so a study nobody has judged
# builds as before, and new judgements (the file's modification time) rerun only what reads them.
import shlex

from nst.study.tables.people_claims import reads_agreement


def judged():
    return os.path.isfile(layout.JUDGEMENTS)


def human_targets(wildcards=None):
    """The rankings, agreement and reliability tables and charts, once someone has judged."""
    if not judged():
        return []
    return [
        layout.HUMAN_RANKINGS,
        layout.HUMAN_RANKINGS_FIGURE,
        layout.HUMAN_AGREEMENT,
        layout.HUMAN_AGREEMENT_FIGURE,
        layout.HUMAN_RELIABILITY,
    ]


def judged_images(wildcards):
    """Every run's image.png: a judgement of an image that has changed since is left out."""
    keys = sorted({k for name in PLAN.experiments for k in experiment_run_keys(name)})
    return [run_file(PLAN.runs[k], layout.IMAGE) for k in keys]


def people_select(name):
    return bool(name) and (PLAN.experiments[name].select or {}).get("metric") == "human"


def selection_judgements(wildcards):
    """An experiment table's judgements: for select.metric human, when there are any."""
    return [layout.JUDGEMENTS] if judged() and people_select(wildcards.experiment) else []


def selection_images(wildcards):
    return experiment_images(wildcards) if selection_judgements(wildcards) else []


def table5_judgements(wildcards):
    """Table 5's: its revised experiment's, as for that experiment's table."""
    revised = PLAN.results_array.revised if PLAN.results_array else None
    return [layout.JUDGEMENTS] if judged() and people_select(revised) else []


def judgements_flag(wildcards, input):
    return f"--judgements {shlex.quote(str(input.judgements))}" if input.judgements else ""


def claims_agreement(wildcards):
    """The agreement table, for the claims file's agrees_with_people claims."""
    return [layout.HUMAN_AGREEMENT] if judged() and reads_agreement(CLAIMS) else []


def agreement_flag(wildcards, input):
    return f"--agreement {shlex.quote(str(input.agreement))}" if input.agreement else ""
