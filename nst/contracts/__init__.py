"""What crosses a file, process or rule boundary: the shapes that a run, the study's planning,
its tables and figures, the workflow's rules and the CLI all agree on.

    layers, param_values, params, presets   a run's settings (RunParams, run_id) and their values
    image_files, families                   what planning checks of images and networks, as a run does
    evaluators                              what every run is scored by (the definitions, not the scoring)
    run_folder                              one run on disk: its file names, history.csv's columns,
                                            the finished run's reader, whether a folder may take a run
    layout                                  every path under results/
    manifest                                the plan as the tables and figures read it

Torch-free and pandas-free: the planner runs inside Snakemake's parse step and the table jobs are
short, so nothing here may cost a heavy import. It imports nothing of nst/ but itself and the
shared errors, files and hashes (tests/test_house.py checks, counting imports inside functions).
"""
