"""The verdicts of findings.csv (nst/study/tables/findings.py, nst/study/tables/people_claims.py)."""
HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"
