"""nst/files.py: a file is either its old content or its new content, never half of either; JSON the
user names is read with one clear error."""
from __future__ import annotations

import os

import pytest

from nst.errors import InputError, OutputError
from nst.files import atomic_path, copy_file, parse_json_object, read_json_object, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text(tmp_path / "run.json", "finished\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            assert target.read_text() == "finished\n"  # not visible before the rename
            raise RuntimeError("job killed")
    assert target.read_text() == "finished\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_write_and_copy_create_the_folder_and_replace_the_content(tmp_path):
    first = write_text(tmp_path / "a" / "b" / "history.csv", "x\n1\n")
    assert first.read_text() == "x\n1\n"
    write_text(first, "x\n2\n")
    assert first.read_text() == "x\n2\n"
    copy = copy_file(first, tmp_path / "c" / "history.csv")
    assert copy.read_text() == "x\n2\n"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["history.csv"]


def test_a_write_under_a_file_names_the_path(tmp_path):
    (tmp_path / "taken").write_text("mine")
    with pytest.raises(OutputError, match="taken/x/run.json.*a file stands where a folder is needed"):
        write_text(tmp_path / "taken" / "x" / "run.json", "{}")
    assert (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("case, expected", [
    ("absent", "does not exist"), ("folder", "is a folder"), ("text", "is not JSON"),
    ("array", "holds an array, not a JSON object"), ("binary", "is not JSON"),
])
def test_json_the_user_names_is_read_with_one_clear_error(case, expected, tmp_path):
    path = tmp_path / case
    if case == "folder":
        path.mkdir()
    elif case != "absent":
        content = {"text": b"{not json", "array": b"[1, 2]", "binary": b"\xff\xfe\x00"}[case]
        path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as info:
        read_json_object(path, "--params file")
    assert str(info.value).startswith("--params file") and case in str(info.value)
    assert "\n" not in str(info.value)


def test_a_json_object_is_returned_as_it_is(tmp_path):
    assert read_json_object(write_text(tmp_path / "p.json", '{"seed": 3}'), "--params file") == {"seed": 3}
    assert parse_json_object('{"a": [1]}', "--params-json") == {"a": [1]}
    with pytest.raises(InputError, match="--params-json holds null"):
        parse_json_object("null", "--params-json")


def test_content_hash_is_remembered_beside_the_file_and_renewed_when_it_changes(tmp_path):
    """Planning and every job ask for a weights file's hash: it is read once and kept in the
    file's sidecar by size and mtime, so a 548 MB file is not re-read per job."""
    from nst.files import content_sha256, read_sidecar, sha256_file, write_sidecar

    weights = tmp_path / "my.pth"
    weights.write_bytes(b"first")
    assert content_sha256(weights) == sha256_file(weights) == read_sidecar(weights)["sha256"]
    other = tmp_path / "other.pth"
    other.write_bytes(b"second")
    stat = other.stat()
    write_sidecar(other, {"sha256": "remembered", "hashed": [stat.st_size, stat.st_mtime_ns]})
    assert content_sha256(other) == "remembered"  # taken from the sidecar, not re-read
    other.write_bytes(b"changed!")
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert content_sha256(other) == sha256_file(other)


@pytest.mark.parametrize("name", ["", " ", "."])
def test_an_output_path_that_names_no_file_is_refused(tmp_path, monkeypatch, name):
    """-o "" (or ".") as a file to write: one line, not Path's ValueError, nothing written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="names no file"):
        write_text(name, "x")
    assert list(tmp_path.iterdir()) == []
