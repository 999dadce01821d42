"""Tables of a study (pandas): runs.csv, the experiment tables, Table 5, selection, successive
halving's decisions, statistics across pairs, summaries, findings and people's judgements.

Tables read the manifest and finished runs through nst/contracts/ and may use the plan's pure
definitions (nst/study/plan/); nothing here draws.
"""
