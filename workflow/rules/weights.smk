# The ImageNet VGG-19 weights, fetched or verified once before any run (on a cluster: on the
# submit host, as a localrule), with a features-only copy that jobs load quickly.


localrules:
    weights,


rule weights:
    output:
        record=f"{RESULTS}/weights/imagenet.json",
    log:
        "logs/weights.log",
    params:
        file=lambda wildcards: execution("weights_file") or "",
    conda:
        CONDA_ENV
    shell:
        "nst weights fetch {params.file:q} --record {output.record:q} > {log:q} 2>&1"
