"""A finished run's record (nst/contracts/run_record.py) and the run folder's readers of it
(nst/contracts/run_folder.py's read_record, probe_record)."""
from __future__ import annotations

import json

import pytest

from nst.contracts.run_folder import IMAGE, RECORD, made_from, probe_record, read_record, usable_record
from nst.contracts.run_record import RunRecord
from nst.errors import InputError
from nst.run.engine import stylize
from nst.run.writer import write_run

from kit import tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def written(content_path, style_path, tmp_path_factory):
    """A run's folder as nst/run/writer.py writes it (random weights, 32 px), and the run."""
    result = stylize(tiny_params(iterations=3, snapshots=[2]), content_path, style_path)
    return write_run(result, tmp_path_factory.mktemp("records") / "run"), result


def test_a_written_record_reads_back_typed(written):
    folder, result = written
    record = read_record(folder)
    assert isinstance(record, RunRecord)
    assert record.run_id == result.params.run_id
    assert record.params == result.params.to_dict() and record.iterations == 3
    assert record.status == "ok" and record.diverged_at is None and record.diverged_reason is None
    assert record.iterations_done == len(result.history) == 3
    assert record.final == pytest.approx(result.final) and record.evaluation == pytest.approx(result.evaluation)
    assert record.weights["random"] is True and record.random_weights is True
    assert record.device == "cpu" and record.timing["seconds"] > 0
    assert record.continued_from is None and record.derived_from is None
    assert made_from(record.data)["content"] == result.content.sha256


def test_a_record_round_trips_byte_for_byte(written):
    folder, _ = written
    text = (folder / RECORD).read_text()
    record = RunRecord.from_json(text)
    assert record.to_json() == text
    assert RunRecord.from_dict(record.as_dict()).to_json() == text
    assert list(record.as_dict()) == list(json.loads(text))  # the writer's key order


def test_replace_keeps_every_field_in_its_place_and_adds_new_ones_last(written):
    folder, _ = written
    record = read_record(folder)
    changed = record.replace(status="diverged", diverged_at=2, derived_from="abc")
    assert list(changed.as_dict()) == [*record.as_dict(), "derived_from"]
    assert (changed.status, changed.diverged_at, changed.derived_from) == ("diverged", 2, "abc")
    assert record.status == "ok" and "derived_from" not in record.data  # the original is as it was
    with pytest.raises(AttributeError):
        record.status = "diverged"  # frozen


def test_as_dict_is_a_copy(written):
    record = read_record(written[0])
    record.as_dict()["params"]["iterations"] = 99
    assert record.iterations == 3


def test_a_record_from_before_a_field_existed_reads_it_as_empty():
    record = RunRecord.from_json(json.dumps({"run_id": "abc", "params": {"iterations": 4}}))
    assert (record.status, record.stalled_at, record.iterations_done, record.device) == (None,) * 4
    assert (record.final, record.evaluation, record.weights, record.timing) == ({},) * 4
    assert record.random_weights is False


@pytest.mark.parametrize("text, message", [
    ('{"run_id": "abc", "par', "is not JSON"),
    ("[1, 2]", "holds an array, not a JSON object"),
    ('{"params": {}}', "holds no run: it has no 'run_id'"),
    ('{"run_id": "abc"}', "holds no run: it has no 'params'"),
    ('{"run_id": 7, "params": {}}', "its 'run_id' is a number, not a string"),
    ('{"run_id": "abc", "params": []}', "its 'params' is an array, not an object"),
    ('{"run_id": "abc", "params": {}, "diverged_at": "soon"}', "its 'diverged_at' is a string, not a whole number"),
    ('{"run_id": "abc", "params": {}, "final": 3}', "its 'final' is a number, not an object"),
])
def test_a_bad_record_is_one_input_error_naming_the_file(tmp_path, text, message):
    (tmp_path / RECORD).write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        read_record(tmp_path)
    assert str(tmp_path / RECORD) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InputError, match=message):  # finished, but unreadable: not "unfinished"
        probe_record(tmp_path)


def test_a_missing_record_is_an_input_error_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="run record .*run.json.* does not exist"):
        read_record(tmp_path)


def test_an_unfinished_folder_probes_as_none(tmp_path, written):
    assert probe_record(tmp_path / "nothing") is None
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / IMAGE).write_bytes((written[0] / IMAGE).read_bytes())  # everything but run.json
    assert probe_record(unfinished) is None
    assert probe_record(written[0]).run_id == written[1].params.run_id


def test_the_planners_reader_takes_an_unreadable_record_as_no_run(tmp_path, written):
    """usable_record (the steps after planning): None for no run.json and for one that does not
    parse, where probe_record raises; the record itself otherwise."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / RECORD).write_text("{oops")
    with pytest.raises(InputError):
        probe_record(broken)
    assert usable_record(broken) is None
    assert usable_record(tmp_path / "nothing") is None
    assert usable_record(written[0]).run_id == written[1].params.run_id
