"""The verdicts of findings.csv (nst/study/findings.py, nst/study/people_claims.py)."""
HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"
