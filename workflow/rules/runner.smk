# The batching runner lives as long as this Snakemake invocation (execution.batch_size > 1).


onstart:
    start_runner()


onsuccess:
    stop_runner()


onerror:
    stop_runner()
