"""VGG-19 weights: offline and download errors, state-dict files, weights_only loading,
ImageNet hash verification."""
from __future__ import annotations

import json
import os
import warnings

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

import nst.run.vgg as vgg
import nst.run.weights as vgg_weights
from nst import cli
from nst.run.engine import stylize
from nst.errors import WeightsError
from nst.run.writer import write_run

from kit import run_nst, tiny_params

DEPTH = 19  # features[0..18]: conv_1 .. pool_3, eight convolutions


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache."""
    home = tmp_path / "torch-home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("NST_OFFLINE", raising=False)
    assert vgg_weights.hub_checkpoint_dir() == home / "hub" / "checkpoints"
    return home


def random_state(depth: int = DEPTH, seed: int = 3) -> dict[str, torch.Tensor]:
    """torchvision-keyed tensors for the first `depth` feature modules, made here by hand."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for index, module in enumerate(list(make_layers(cfgs["E"]))[:depth]):
        if isinstance(module, nn.Conv2d):
            state[f"features.{index}.weight"] = torch.randn(module.weight.shape, generator=gen) * 0.05
            state[f"features.{index}.bias"] = torch.randn(module.bias.shape, generator=gen) * 0.01
    return state


def assert_clear_missing_message(message: str):
    assert "vgg19-dcbb9e9d.pth" in message
    assert "`nst weights fetch`" in message
    assert "weights=random" in message
    assert "\n" not in message


# --- ImageNet weights that are not there ---------------------------------------------------
def test_offline_without_the_file_is_a_clear_error(torch_home, monkeypatch, content_path, style_path):
    monkeypatch.setenv("NST_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        stylize(tiny_params(weights="imagenet", iterations=1), content_path, style_path)
    assert_clear_missing_message(str(info.value))
    assert str(torch_home / "hub" / "checkpoints") in str(info.value)


def test_failed_download_gives_the_same_clear_error(torch_home, monkeypatch):
    """Without NST_OFFLINE nst tries to download. The URL points at a closed local port so the
    test fails fast and never downloads 548 MB, with or without internet."""
    monkeypatch.setattr(vgg_weights, "IMAGENET_URL", "http://127.0.0.1:9/vgg19-dcbb9e9d.pth")
    with pytest.raises(WeightsError) as info:
        vgg_weights.resolve_imagenet_file()
    message = str(info.value)
    assert_clear_missing_message(message)
    assert "download failed" in message
    assert not (torch_home / "hub" / "checkpoints" / vgg_weights.IMAGENET_FILE).exists()


def test_cli_reports_missing_imagenet_weights_in_one_line(torch_home, tmp_path, content_path, style_path):
    done = run_nst(["run", content_path, style_path, "-o", tmp_path / "out", "--set", "weights=imagenet",
                    "--set", "size=32", "--set", "iterations=1", "--device", "cpu"],
                   env={"TORCH_HOME": str(torch_home), "NST_OFFLINE": "1"})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("nst: error:")]
    assert len(errors) == 1
    assert_clear_missing_message(errors[0])
    assert not (tmp_path / "out" / "run.json").exists()


# --- a state dict file given as weights=PATH -----------------------------------------------
def hand_loaded_features(state, pooling, image, layers):
    """torchvision's stack with the tensors copied in by hand, normalised input."""
    modules = list(make_layers(cfgs["E"]))[:DEPTH]
    if pooling == "avg":
        modules = [nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in modules]
    with torch.no_grad():
        for index, module in enumerate(modules):
            if isinstance(module, nn.Conv2d):
                module.weight.copy_(state[f"features.{index}.weight"])
                module.bias.copy_(state[f"features.{index}.bias"])
        x = (image - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        out = {}
        names = iter(vgg.LAYER_ORDER)
        for module in modules:
            x = nn.ReLU()(x) if isinstance(module, nn.ReLU) else module(x)
            name = next(names)
            if name in layers:
                out[name] = x.clone()
    return out


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_state_dict_file_gives_the_features_of_hand_loaded_tensors(pooling, tmp_path):
    state = random_state()
    state["classifier.6.bias"] = torch.zeros(1000)  # a full torchvision file has these; ignored
    torch.save(state, tmp_path / "mine.pth")
    layers = ["conv_1", "relu_2", "pool_1", "conv_4", "relu_5", "conv_8", "pool_3"]
    loaded, record = vgg_weights.load_weights(str(tmp_path / "mine.pth"))
    extractor = vgg.make_extractor(layers, pooling, loaded)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ours = extractor(image)
    theirs = hand_loaded_features(state, pooling, image, layers)
    assert set(ours) == set(theirs) == set(layers)
    for name in layers:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-6, atol=1e-6, msg=name)
    assert record == {"family": "file", "source": str(tmp_path / "mine.pth"), "random": False,
                      "file": str(tmp_path / "mine.pth")}
    # ... and not the seeded random weights
    random_features = vgg.make_extractor(layers, pooling, None)(image)
    assert not torch.allclose(random_features["conv_1"], ours["conv_1"])


def test_run_with_a_state_dict_file_records_it(tmp_path, content_path, style_path):
    torch.save(random_state(), tmp_path / "mine.pth")
    result = stylize(tiny_params(weights=str(tmp_path / "mine.pth"), iterations=2), content_path, style_path)
    write_run(result, tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["random_weights"] is False
    assert record["weights"]["file"] == str(tmp_path / "mine.pth")
    random_run = stylize(tiny_params(iterations=2), content_path, style_path)
    assert random_run.record()["random_weights"] is True
    assert random_run.history[0]["total"] != result.history[0]["total"]


def test_wrong_shape_is_refused(tmp_path, content_path, style_path):
    state = random_state()
    state["features.2.weight"] = torch.randn(64, 64, 5, 5)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(WeightsError) as info:
        stylize(tiny_params(weights=str(tmp_path / "odd.pth"), iterations=1), content_path, style_path)
    message = str(info.value)
    assert "'features.2.weight'" in message and "(64, 64, 5, 5)" in message and "(64, 64, 3, 3)" in message


def test_missing_key_is_refused(tmp_path):
    state = random_state()
    del state["features.5.bias"]
    with pytest.raises(WeightsError, match="'features.5.bias'"):
        vgg.make_extractor(["conv_4"], "avg", state)


class Payload:
    """Unpickling this would create a file: proof that pickled code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_objects_are_refused_and_never_run(tmp_path, content_path, style_path):
    marker = tmp_path / "pickle-ran"
    state = random_state()
    state["extra"] = Payload(marker)
    torch.save(state, tmp_path / "evil.pth")
    with pytest.raises(WeightsError) as info:
        stylize(tiny_params(weights=str(tmp_path / "evil.pth"), iterations=1), content_path, style_path)
    assert "pickled Python objects" in str(info.value) and "evil.pth" in str(info.value)
    assert not marker.exists()
    # the file is real: without weights_only it would have run the payload
    torch.load(tmp_path / "evil.pth", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "content",
    [{"features.0.weight": torch.zeros(64, 3, 3, 3), "note": "hello"}, [torch.zeros(3)], torch.zeros(3)],
    ids=["dict-with-a-string", "list", "bare-tensor"],
)
def test_a_file_that_is_not_a_state_dict_of_tensors_is_refused(content, tmp_path):
    torch.save(content, tmp_path / "odd.pth")
    with pytest.raises(WeightsError, match="not a state dict of tensors"):
        vgg_weights.read_state_dict(tmp_path / "odd.pth")


def test_a_whole_pickled_module_is_refused(tmp_path):
    torch.save(nn.Sequential(nn.Conv2d(3, 64, 3)), tmp_path / "module.pth")
    with pytest.raises(WeightsError, match="pickled Python objects.*torch.nn.modules.container.Sequential"):
        vgg_weights.read_state_dict(tmp_path / "module.pth")


def test_missing_state_dict_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        vgg_weights.load_weights(str(tmp_path / "absent.pth"))


# --- ImageNet file verification ------------------------------------------------------------
def test_imagenet_file_with_the_wrong_hash_is_rejected(torch_home, content_path, style_path):
    fake = torch_home / "hub" / "checkpoints" / vgg_weights.IMAGENET_FILE
    fake.parent.mkdir(parents=True)
    torch.save(random_state(), fake)
    with pytest.raises(WeightsError) as info:
        stylize(tiny_params(weights="imagenet", iterations=1), content_path, style_path)
    message = str(info.value)
    assert str(fake) in message and "does not start with dcbb9e9d" in message
    assert "`nst weights fetch`" in message
    # the same through weights_file, and through `nst weights verify`
    with pytest.raises(WeightsError, match="does not start with dcbb9e9d"):
        vgg_weights.resolve_imagenet_file(str(fake))
    assert cli.main(["weights", "verify", str(fake)]) == 2


def test_weights_file_that_does_not_exist(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        vgg_weights.resolve_imagenet_file(str(tmp_path / "nope.pth"))


def test_weights_verify_of_a_missing_file_or_a_folder_is_one_line(tmp_path, capsys):
    for target, expected in [(tmp_path / "absent.pth", "absent.pth' does not exist"), (tmp_path, "is a folder")]:
        assert cli.main(["weights", "verify", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nst: error:") and expected in err and err.count("\n") == 1


def test_verifying_a_copy_neither_reads_nor_writes_the_file_beside_it(torch_home, monkeypatch, tmp_path):
    """`copy.pth.json` beside a weights_file copy is the user's: not taken for a record of ours
    (it claims to be a features-only copy here), and left as it was."""
    path = tmp_path / "copy.pth"
    torch.save(random_state(), path)
    beside = '{"sha256": "%s", "features_of": "dcbb9e9d"}' % vgg_weights.sha256_of(path)
    (tmp_path / "copy.pth.json").write_text(beside)
    with pytest.raises(WeightsError, match="is not torchvision's"):
        vgg_weights.verify_file(path)
    monkeypatch.setattr(vgg_weights, "IMAGENET_HASH_PREFIX", vgg_weights.sha256_of(path)[:8])
    assert vgg_weights.verify_file(path) == vgg_weights.sha256_of(path)
    assert (tmp_path / "copy.pth.json").read_text() == beside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.pth", "copy.pth.json", "torch-home"]


def test_fetch_with_a_named_copy_verifies_it_and_records_it(torch_home, monkeypatch, tmp_path, capsys):
    path = tmp_path / "copy.pth"
    torch.save(random_state(), path)
    monkeypatch.setattr(vgg_weights, "IMAGENET_HASH_PREFIX", vgg_weights.sha256_of(path)[:8])
    assert cli.main(["weights", "fetch", str(path), "--record", str(tmp_path / "record.json")]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {path} (sha256 ")
    assert json.loads((tmp_path / "record.json").read_text()) == {"file": str(path),
                                                                   "sha256": vgg_weights.sha256_of(path)}
    assert not (torch_home / "hub" / "checkpoints").exists()  # nothing fetched


def test_verified_imagenet_file_runs_and_a_modified_one_is_rechecked(torch_home, monkeypatch, tmp_path,
                                                                      content_path, style_path):
    """The real file cannot be used here, so the expected hash prefix is set to that of a
    made-up file: this checks the path a verified file takes (hub cache -> verify -> load),
    the verification record, the features-only copy, and that changing a file voids it."""
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    full = checkpoints / vgg_weights.IMAGENET_FILE
    state = random_state()
    torch.save(state, full)
    monkeypatch.setattr(vgg_weights, "IMAGENET_HASH_PREFIX", vgg_weights.sha256_of(full)[:8])
    monkeypatch.setenv("NST_OFFLINE", "1")

    result = stylize(tiny_params(weights="imagenet", iterations=1), content_path, style_path)
    assert result.weights == {"family": "imagenet", "source": "imagenet", "random": False, "file": str(full),
                              "sha256": vgg_weights.sha256_of(full)}
    by_hand = stylize(tiny_params(weights=str(full), iterations=1), content_path, style_path)
    assert result.history[0]["total"] == by_hand.history[0]["total"]

    features = vgg_weights.write_features_only(full)
    assert features == checkpoints / vgg_weights.FEATURES_FILE
    assert vgg_weights.resolve_imagenet_file() == features      # runs prefer the smaller copy
    assert vgg_weights.verify_file(features, force=True) == vgg_weights.sha256_of(features)
    assert set(vgg_weights.read_state_dict(features)) == {k for k in state if k.startswith("features.")}

    torch.save(random_state(seed=4), features)          # tampered with after verification
    # same size; a later edit has a later mtime (set here: timestamps can be jiffy-coarse)
    stat = features.stat()
    os.utime(features, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    with pytest.raises(WeightsError, match="is not torchvision's"):
        vgg_weights.resolve_imagenet_file()


@pytest.mark.parametrize("content, needle", [
    (b"", "is empty (0 bytes)"),
    (b"x", "is not a PyTorch file"),
    (b"hello, not weights\n", "is not a PyTorch file"),
])
def test_a_file_that_is_not_weights_is_one_clear_line(tmp_path, capsys, content_path, style_path, content, needle):
    """Issue reproductions: a 0-byte file was an IndexError, a text file said only ': 101'."""
    bad = tmp_path / "my.pth"
    bad.write_bytes(content)
    code = cli.main(["run", str(content_path), str(style_path), "-o", str(tmp_path / "out"), "--weights", str(bad),
                     "--image-size", "32", "--num-iterations", "1", "--device", "cpu", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "my.pth" in err and needle in err


# --- issue 19, item 19: what a weights file holds, said in our own words, found at planning -------
def pickled_files(folder) -> dict:
    """Weights files that hold more than tensors, each made as people make them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    state = random_state(depth=2)
    state["extra"] = Payload(folder / "pickle-ran")
    torch.save(state, folder / "object.pth")
    files["object.pth"] = "pickled Python objects"
    torch.save(nn.Sequential(nn.Conv2d(3, 64, 3)), folder / "module.pth")
    files["module.pth"] = "pickled Python objects"
    torch.save(state, folder / "legacy.pth", _use_new_zipfile_serialization=False)
    files["legacy.pth"] = "pickled Python objects"
    with pytest.warns(FutureWarning):  # torch's own deprecation of torch.jit, not ours
        torch.jit.save(torch.jit.script(nn.Conv2d(3, 64, 3)), folder / "script.pth")
    files["script.pth"] = "TorchScript archive"
    return files


def test_a_weights_file_of_pickled_objects_is_one_line_of_our_own(tmp_path, content_path, style_path):
    """torch's own text advised weights_only=False (the one thing not to do with such a file),
    after a UserWarning for a TorchScript archive."""
    for name, needle in pickled_files(tmp_path / "w").items():
        done = run_nst(["run", content_path, style_path, "-o", tmp_path / name, "--weights", tmp_path / "w" / name,
                        "--image-size", "32", "--num-iterations", "1", "--device", "cpu", "-q"])
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("nst: error: weights file") and needle in done.stderr and name in done.stderr
        assert "state_dict()" in done.stderr  # what to do instead
        for torch_text in ("weights_only=False", "can still be loaded", "Warning", "trust"):
            assert torch_text not in done.stderr, done.stderr
    assert not (tmp_path / "w" / "pickle-ran").exists()


def test_planning_refuses_a_weights_file_of_pickled_objects_before_any_job(root, tmp_path):
    """Read without torch and without unpickling: the study stops once, naming the file,
    instead of in every job."""
    from kit import small_config
    from nst.errors import PlanError
    from nst.study.plan.build import build_plan

    for name, needle in pickled_files(tmp_path / "w").items():
        config = small_config(e={"set": {"weights": str(tmp_path / "w" / name)}})
        with pytest.raises(PlanError, match=rf"experiment 'e'.*{name}.*{needle}"):
            build_plan(config, root=root)
        with pytest.raises(Exception), warnings.catch_warnings():  # what planning refuses, torch refuses too
            warnings.simplefilter("ignore")  # its TorchScript warning
            torch.load(tmp_path / "w" / name, weights_only=True)
    assert not (tmp_path / "w" / "pickle-ran").exists()
    torch.save(random_state(), tmp_path / "fine.pth")
    build_plan(small_config(e={"set": {"weights": str(tmp_path / "fine.pth")}}), root=root)


@pytest.mark.parametrize("content", [
    random_state(), {k: v.half() for k, v in random_state().items()}, {k: v.bfloat16() for k, v in random_state().items()},
    {"features.0.weight": nn.Parameter(torch.zeros(64, 3, 3, 3)), "flags": torch.zeros(2, dtype=torch.bool),
     "counts": torch.zeros(2, dtype=torch.int64), "view": torch.zeros(10)[2:5]},
    nn.Conv2d(3, 8, 3).state_dict()], ids=["float32", "float16", "bfloat16", "parameters-and-dtypes", "module-state"])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_the_planning_check_passes_every_state_dict_of_tensors_torch_loads(content, legacy, tmp_path):
    from nst.contracts.state_dict_file import check_state_dict_file

    torch.save(content, tmp_path / "w.pth", _use_new_zipfile_serialization=not legacy)
    check_state_dict_file(tmp_path / "w.pth")
    torch.load(tmp_path / "w.pth", weights_only=True)
