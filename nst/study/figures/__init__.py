"""Figures of a study (matplotlib, Pillow): labelled grids of run images (`grids`, `run_grids`),
charts, the interaction plot, per-layer trajectories, reconstructions, the selection scatter and
people's rankings. Each is drawn from the tables (nst/study/tables/).
"""
