"""The rating page: `nst judge` serves a study's outputs two at a time to people and stores what
they say (catalog: what may be shown; schedule: which comparisons, in which order; store: the
database; server: HTTP and its security model; page/: the page itself, no internet needed).
Reads the study through nst/study; never imports torch or Snakemake."""
