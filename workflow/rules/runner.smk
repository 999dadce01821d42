# Before the first job of a call that runs jobs: the files its jobs read (common.smk's
# INVOCATION); the fork server (execution.forkserver) and the batching runner
# (execution.batch_size > 1), which live as long as this Snakemake invocation.


onstart:
    write_invocation_files(INVOCATION)
    start_job_forkserver()
    start_batching_runner()


onsuccess:
    stop_batching_runner()
    stop_job_forkserver()


onerror:
    stop_batching_runner()
    stop_job_forkserver()
