"""The workflow's files as text: formatted by snakefmt (with pyproject.toml's [tool.snakefmt]),
and spelling no path under results/ (nst/study/layout.py names them all)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from kit import ROOT

WORKFLOW_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def test_the_workflow_is_formatted_by_snakefmt():
    assert len(WORKFLOW_FILES) > 5, WORKFLOW_FILES  # Snakefile and the rule files were found
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", *map(str, WORKFLOW_FILES)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"run `snakefmt Snakefile workflow/rules/*.smk`:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_rules_take_every_results_path_from_the_layout(path):
    """Code, not comments, never spells results/...: a path spelled twice drifts apart."""
    code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    spelled = [line for line in code if re.search(r"""["']results/""", line)]
    assert not spelled, f"{path.name}: use nst.study.layout for {spelled}"
