# The batching runner lives as long as this Snakemake invocation (execution.batch_size > 1).


onstart:
    start_batching_runner()


onsuccess:
    stop_batching_runner()


onerror:
    stop_batching_runner()
