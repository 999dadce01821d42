"""The workflow's files as text: formatted by snakefmt (with pyproject.toml's [tool.snakefmt]),
and spelling no path under results/ (nst/contracts/layout.py names them all)."""
from __future__ import annotations

import ast
import re
import string
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
    assert not spelled, f"{path.name}: use nst.contracts.layout for {spelled}"


# Placeholders whose values come from a fixed alphabet, so they never need shell quoting: run ids
# and evaluator hashes (hex, the rules' wildcard_constraints), rung numbers and snapshot lists
# (digits and commas), the thread count; and two that hold a flag with a path: the stylize
# rule's trajectory (a run folder: image stems, blend names and a run id, all of the alphabet
# nst/study/plan/names.py enforces at planning) and the score rule's weights record
# (results/weights/<family>.json). Quoting those two would change the stylize and score
# commands, and Snakemake reruns a job whose command changed: every finished run of every
# study would be recomputed and re-scored once. The judgements' and agreement table's flags
# (workflow/rules/human_inputs.smk) are empty or a flag and a path its function shlex-quotes.
UNQUOTED_SAFE = {"wildcards.run_id", "wildcards.evaluator", "wildcards.rung", "params.snapshots", "threads",
                 "params.trajectory", "params.weights", "params.people", "params.agreement"}


def shell_commands(path):
    """The shell commands of a rule file, each as the one string Snakemake formats."""
    commands, lines = [], path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "shell:":
            continue
        parts = []
        for part in lines[i + 1:]:
            if not part.strip().startswith(("'", '"')):
                break
            parts.append(ast.literal_eval(part.strip()))
        commands.append("".join(parts))
    return commands


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_shell_argument_made_from_a_name_is_quoted(path):
    """A name with a space or a quote must reach the command as one argument (issue 19, item 8):
    every placeholder is quoted ({x:q}) unless its values cannot hold such characters."""
    unquoted = [(field, command) for command in shell_commands(path)
                for _, field, spec, _ in string.Formatter().parse(command)
                if field and not (spec or "").endswith("q") and field not in UNQUOTED_SAFE]
    assert not unquoted, f"{path.name}: quote these placeholders with :q: {unquoted}"


def test_the_shell_commands_are_found():
    found = {path.name: len(shell_commands(path)) for path in WORKFLOW_FILES}
    assert found["stylize.smk"] == 1 and found["aggregate.smk"] >= 7 and found["layers.smk"] == 2, found


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_the_rules_hold_no_lambdas(path):
    """Named input and params functions (Snakemake's best practices; issue 20)."""
    code = [line.split("#", 1)[0] for line in path.read_text().splitlines()]
    assert not [n for n, line in enumerate(code, 1) if re.search(r"\blambda\b", line)], path.name


def rule_blocks(text: str) -> dict[str, str]:
    """rule name -> its text, up to the next rule."""
    parts = re.split(r"^rule (\w+):\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_report_caption_reads_only_params_its_rule_defines(path):
    """A caption naming {{ snakemake.params.X }} of a rule without X renders it empty."""
    for rule, block in rule_blocks(path.read_text()).items():
        params = block.split("    params:\n", 1)[1] if "    params:\n" in block else ""
        params = re.split(r"^    \w+:\n", params, maxsplit=1, flags=re.M)[0]
        defined = set(re.findall(r"^        (\w+)=", params, flags=re.M))
        for caption in re.findall(r'caption="([^"]+)"', block):
            used = set(re.findall(r"snakemake\.params\.(\w+)", (path.parent / caption).read_text()))
            assert used <= defined, f"rule {rule}: {caption} reads params {sorted(used - defined)}"
