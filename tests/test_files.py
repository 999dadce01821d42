"""nst/files.py: a file is either its old content or its new content, never half of either."""
from __future__ import annotations

import pytest

from nst.files import atomic_path, copy_file, write_text


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
