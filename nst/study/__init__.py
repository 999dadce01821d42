"""A study of many runs: image folders, the plan, shared trajectories, tables and figures."""
