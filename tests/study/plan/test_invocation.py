"""nst.study.plan.invocation: one snakemake call's plan and the files its jobs read, computed
without writing anything; the files named by their content and never rewritten."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nst.contracts import layout
from nst.contracts.job_environment import EXECUTION_VARIABLE, PRESCORE_VARIABLE
from nst.contracts.manifest import Manifest
from nst.errors import PlanError
from nst.study.plan.build import build_plan
from nst.study.plan.invocation import ContentFile, plan_invocation, prescore_requests, write_invocation_files

from kit import make_images, small_config


@pytest.fixture
def root(tmp_path, monkeypatch):
    make_images(tmp_path / "images/content", ["cat", "dog"])
    make_images(tmp_path / "images/style", ["wave"])
    monkeypatch.chdir(tmp_path)  # the workflow runs in the study's folder: layout's paths are relative
    return tmp_path


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def config_with(**execution):
    config = small_config()
    config["execution"].update(execution)
    config["evaluation"] = [{"name": "a", "base": "gatys"}, {"name": "b", "base": "gatys"}, "paper"]
    return config


def test_planning_a_call_writes_nothing(root):
    before = tree(root)
    invocation = plan_invocation(config_with(), root=root)
    assert tree(root) == before
    assert invocation.plan.runs and not invocation.stale
    assert not any(Path(f.path).exists() for f in invocation.files)


def test_the_jobs_files_hold_what_the_call_planned_and_the_variables_name_them(root):
    invocation = plan_invocation(config_with(checkpoint_seconds=5), root=root)
    write_invocation_files(invocation)
    env = invocation.environment
    assert set(env) == {EXECUTION_VARIABLE, PRESCORE_VARIABLE}
    assert Path(env[EXECUTION_VARIABLE]).parent == Path(layout.EXECUTIONS)
    assert json.loads(Path(env[EXECUTION_VARIABLE]).read_text()) == {"device": "cpu", "threads": 1, "checkpoint_seconds": 5}
    requests = json.loads(Path(env[PRESCORE_VARIABLE]).read_text())["evaluators"]
    # two evaluators with equal settings share one score file: one request for both
    assert [r["hash"] for r in requests] == list(dict.fromkeys(ev.hash for ev in invocation.plan.evaluation))
    assert len(requests) == 2
    assert Manifest.load(invocation.manifest.path) == invocation.plan.manifest()  # what the tables read back


def test_files_are_named_by_content_and_never_rewritten(root):
    """A second snakemake call (dry, refused, another config) must not change the file that a
    running call's jobs read: the same settings find their file as it was, others get another."""
    first = plan_invocation(config_with(), root=root).execution
    first.write()
    os.utime(first.path, (1, 1))
    again = plan_invocation(config_with(), root=root).execution
    assert again.path == first.path
    again.write()
    assert Path(first.path).stat().st_mtime == 1  # untouched
    other = plan_invocation(config_with(threads=2), root=root).execution
    other.write()
    assert other.path != first.path and Path(first.path).stat().st_mtime == 1
    assert json.loads(Path(other.path).read_text())["threads"] == 2
    assert ContentFile.of("x", {"b": 1, "a": 2}).path == ContentFile.of("x", {"a": 2, "b": 1}).path


def test_prescore_requests_list_each_settings_once(root):
    plan = build_plan(config_with(), root=root)
    hashes = [r["hash"] for r in prescore_requests(plan)["evaluators"]]
    assert len(hashes) == len(set(hashes)) == len({ev.hash for ev in plan.evaluation})


def test_a_bad_config_is_refused_before_anything_is_written(root):
    config = config_with()
    config["experiments"] = {"x": {"base": "no-such-preset"}}
    before = tree(root)
    with pytest.raises(PlanError, match="no-such-preset"):
        plan_invocation(config, root=root)
    assert tree(root) == before
