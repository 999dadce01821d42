# The fork server (execution.forkserver) and the batching runner (execution.batch_size > 1)
# live as long as this Snakemake invocation.


onstart:
    start_job_forkserver()
    start_batching_runner()


onsuccess:
    stop_batching_runner()
    stop_job_forkserver()


onerror:
    stop_batching_runner()
    stop_job_forkserver()
