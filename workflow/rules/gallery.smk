# The gallery (nst/study/gallery/): every run of the study in one static page,
# results/gallery/index.html, that opens from disk (file://) and from the report's zip. Each
# run's card (thumbnail, loss curve) is a job of its own, made once per run; the page's folder
# is rebuilt from runs.csv, the tuned tables and the cards in seconds. It joins rule all
# through gallery_targets() and the report as a folder with an index page.


include: "gallery_inputs.smk"  # its input functions and targets (lint: rules and functions apart)


localrules:
    gallery_card,
    gallery,


rule gallery_card:
    input:
        image=f"{layout.RUN_PATTERN}/{layout.IMAGE}",
        history=f"{layout.RUN_PATTERN}/{layout.HISTORY}",
        record=f"{layout.RUN_PATTERN}/{layout.RECORD}",
    output:
        thumb=layout.card_pattern(layout.THUMB),
        curve=layout.card_pattern(layout.CURVE),
    log:
        "logs/gallery/{content}/{style}/{run_id}.log",
    conda:
        CONDA_ENV
    params:
        run_dir=card_run_folder,
        key=card_key,
    shell:
        "nst gallery card {params.run_dir:q} --key {params.key:q}"
        " --thumb {output.thumb:q} --curve {output.curve:q} > {log:q} 2>&1"


rule gallery:
    input:
        manifest=layout.MANIFEST,
        runs=layout.RUNS_TABLE,
        tables=gallery_tables,
        cards=gallery_cards,
        run_files=gallery_run_files,
        images=gallery_images,
    output:
        report(
            directory(layout.GALLERY),
            htmlindex=layout.GALLERY_INDEX,
            caption="../report/gallery.rst",
            category="Gallery",
        ),
    log:
        "logs/aggregate/gallery.log",
    conda:
        CONDA_ENV
    params:
        results=results_folder,
    shell:
        "nst gallery build --manifest {input.manifest:q} --results {params.results:q} -o {output:q} > {log:q} 2>&1"
