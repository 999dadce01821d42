"""Successive halving for tuned experiments (nst/study/halving.py): rungs, promotion, and a
promoted run that is the same run as one computed straight through."""
from __future__ import annotations

import pytest
import torch

from nst.errors import NSTError
from nst.run.engine import stylize
from nst.run.outputs import write_run

from kit import tiny_params
from test_resume import assert_same_run_files, run_json


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_into(folder, params, content_path, style_path, continue_from=None):
    write_run(stylize(params, content_path, style_path, outdir=folder, continue_from=continue_from), folder)
    return folder


# --- a promoted run: continued from the rung's state ------------------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_promoted_run_is_the_run_computed_straight_through(optimizer, content_path, style_path, tmp_path):
    """3 iterations (saving its state at 3), continued to 6, then to 9: the same files as 9
    straight through (noise init and shifting: the generator's state carries over)."""
    settings = dict(optimizer=optimizer, init="noise", shift=0.9, shift_rotation=3.0, checkpoint_seconds=0)
    whole = run_into(tmp_path / "whole", tiny_params(iterations=9, **settings), content_path, style_path)
    r0 = run_into(tmp_path / "r0", tiny_params(iterations=3, snapshots=[3], **settings), content_path, style_path)
    r1 = run_into(tmp_path / "r1", tiny_params(iterations=6, snapshots=[6], **settings), content_path, style_path,
                  continue_from=r0)
    full = run_into(tmp_path / "full", tiny_params(iterations=9, **settings), content_path, style_path,
                    continue_from=r1)
    record = run_json(full)
    assert_same_run_files(whole, _without_continued_from(full, tmp_path / "compared"))
    assert record["run_id"] == run_json(whole)["run_id"]
    assert record["continued_from"] == run_json(r1)["run_id"] and record["resumed_from"] == [3, 6]
    assert run_json(r1)["continued_from"] == run_json(r0)["run_id"]


def _without_continued_from(folder, copy):
    """A copy of a run folder whose run.json lacks continued_from (the one expected difference)."""
    import json
    import shutil

    shutil.copytree(folder, copy)
    record = run_json(copy)
    record.pop("continued_from")
    (copy / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return copy


def test_only_a_shorter_run_of_the_same_settings_is_continued(content_path, style_path, tmp_path):
    r0 = run_into(tmp_path / "r0", tiny_params(iterations=3, snapshots=[3]), content_path, style_path)
    no_state = run_into(tmp_path / "plain", tiny_params(iterations=3), content_path, style_path)
    with pytest.raises(NSTError, match="differs from this run in more than iterations"):
        stylize(tiny_params(iterations=6, style_weight=7.0), content_path, style_path, outdir=tmp_path / "x",
                continue_from=r0)
    with pytest.raises(NSTError, match="no state at its last iteration"):
        stylize(tiny_params(iterations=6), content_path, style_path, outdir=tmp_path / "y", continue_from=no_state)
