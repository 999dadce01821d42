"""A run continued from a shorter run's state (nst/run/checkpoint.py's continued_state, what
successive halving promotes with): the same run as one computed straight through, and only
from a shorter run of the same settings on the same images."""
from __future__ import annotations

import json

import pytest

from nst.errors import NSTError
from nst.run.checkpoint import continued_state
from nst.run.engine import stylize
from nst.run.writer import write_run

from kit import assert_same_run_files, run_json, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
    with pytest.raises(NSTError, match="made from other images"):  # issue 19: the images count, by content
        stylize(tiny_params(iterations=6), style_path, content_path, outdir=tmp_path / "z", continue_from=r0)


@pytest.mark.parametrize("record, message", [
    (None, "no finished run there"), ("[]", "not a JSON object"), ("{\"status\": \"ok\"}", "holds no run"),
    ("{oops", "is not JSON")])
def test_a_folder_that_holds_no_run_is_one_message(tmp_path, record, message):
    """--resume-from a folder whose run.json is missing, not an object, not JSON or no run
    record: one NSTError (the CLI's one line), never a TypeError."""
    (tmp_path / "src").mkdir()
    if record is not None:
        (tmp_path / "src" / "run.json").write_text(record)
    with pytest.raises(NSTError, match=message):
        continued_state(tmp_path / "src", tiny_params(iterations=6), made=None)
