# Neural style transfer studies: every content x style x parameter setting is a file target.
# Logic lives in workflow/rules/common.smk and the `nst` package; this file is the table of contents.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the paper's study; a --configfile (the demo, your own study) replaces it
# instead of being merged into it, so experiments never leak from one study into another.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"  # validates the config against the schema, then plans


wildcard_constraints:
    content=alternatives(PLAN.content_images),
    style=alternatives(PLAN.style_images),
    run_id="[0-9a-f]{12}",
    experiment=alternatives(PLAN.experiments),


include: "workflow/rules/runner.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/halving.smk"
include: "workflow/rules/human.smk"  # before aggregate.smk: its tables read the judgements too
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/layers.smk"
include: "workflow/rules/gallery.smk"


rule all:
    default_target: True
    input:
        all_targets,
        gallery_targets,
        human_targets,
