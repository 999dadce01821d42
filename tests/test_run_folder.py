"""`nst run -o DIR` and the folder it writes (issue 19): a run is told apart from another by
the images it was made from, not only by its settings."""
from __future__ import annotations

import json
import shutil

import pytest

from nst import cli
from nst.hashes import sha256_file

from kit import make_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_run_args(content, style, out, *extra):
    """`nst run` of a tiny run; `style` may be a list (a blend)."""
    styles = style if isinstance(style, list) else [style]
    return [str(a) for a in ["run", content, *styles, "-o", out, "--set", "weights=random", "--image-size", "32",
                             "--num-iterations", "2", "--device", "cpu", "-q", *extra]]


def folder_state(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def record_of(out) -> dict:
    return json.loads((out / "run.json").read_text())


@pytest.fixture
def images(tmp_path):
    return {name: make_image(tmp_path / f"{name}.png", 32, 32, seed=seed)
            for name, seed in (("c1", 1), ("s1", 2), ("c2", 3), ("s2", 4))}


# --- item 1: the same settings on other images are another run ------------------------------
def test_run_json_records_the_content_hash_of_every_image(images, tmp_path):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 0
    record = record_of(out)
    assert record["content"]["sha256"] == sha256_file(images["c1"])
    assert record["style"]["sha256"] == sha256_file(images["s1"])
    blend = tmp_path / "blend"
    assert cli.main(tiny_run_args(images["c1"], [images["s1"], images["s2"]], blend)) == 0
    assert [s["sha256"] for s in record_of(blend)["styles"]] == [sha256_file(images["s1"]), sha256_file(images["s2"])]


def test_other_images_with_the_same_settings_are_not_already_finished(images, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 0
    before = folder_state(out)
    capsys.readouterr()

    assert cli.main(tiny_run_args(images["c2"], images["s2"], out)) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "other images" in err and "--overwrite" in err and err.count("\n") == 1
    assert folder_state(out) == before  # still c1 x s1, untouched

    # the same images under other names: the same run (content, not path)
    shutil.copy(images["c1"], tmp_path / "copy_of_c1.png")
    shutil.copy(images["s1"], tmp_path / "copy_of_s1.png")
    assert cli.main(tiny_run_args(tmp_path / "copy_of_c1.png", tmp_path / "copy_of_s1.png", out)) == 0
    assert "already finished" in capsys.readouterr().out
    assert folder_state(out) == before

    assert cli.main(tiny_run_args(images["c2"], images["s2"], out, "--overwrite")) == 0
    record = record_of(out)
    assert (record["content"]["sha256"], record["style"]["sha256"]) == (sha256_file(images["c2"]),
                                                                         sha256_file(images["s2"]))


def test_an_image_replaced_under_the_same_name_is_another_run(images, tmp_path, capsys):
    out = tmp_path / "run"
    content = tmp_path / "content.png"
    shutil.copy(images["c1"], content)
    assert cli.main(tiny_run_args(content, images["s1"], out)) == 0
    shutil.copy(images["c2"], content)
    capsys.readouterr()
    assert cli.main(tiny_run_args(content, images["s1"], out)) == 2
    assert "other images" in capsys.readouterr().err
