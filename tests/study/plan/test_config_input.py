"""nst.study.plan.config_input: repeated keys in config files (issue 19, item 13) and --config strings
read as the schema's types (item 12). The workflow side is tests/workflow/test_workflow_config.py."""
from __future__ import annotations

import pytest
import yaml

from kit import ROOT
from nst.errors import PlanError
from nst.study.plan.config_input import apply_overrides, check_config_files, coerce_overrides, repeated_key

SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


# --- repeated keys -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, found", [
    ("params: {size: 32}\nexperiments:\n  a: {}\npairs: all\nexperiments:\n  b: {}\n",
     "key 'experiments' appears twice, on lines 2 and 5"),
    ("experiments:\n  a:\n    vary: {style_weight: [1]}\n    vary: {iterations: [2]}\n",
     "key 'experiments.a.vary' appears twice, on lines 3 and 4"),
    ("params: {size: 32, seed: 1, size: 64}\n", "key 'params.size' appears twice, on lines 1 and 1"),
    ("pairs:\n  - {content: a, style: b}\n  - content: a\n    content: c\n",
     "key 'pairs[1].content' appears twice, on lines 3 and 4"),
])
def test_a_repeated_key_is_found_with_its_path_and_both_lines(text, found):
    assert yaml.safe_load(text)  # YAML itself takes it, the last one winning
    assert repeated_key(text) == found


@pytest.mark.parametrize("text", [
    "a: {x: 1}\nb: {x: 1}\n",                                   # the same key in two mappings
    "base: &base {size: 32, seed: 0}\nparams:\n  <<: *base\n  size: 64\n",  # a merge key, overridden
    "a: [1, 2]\nb: &anchor {x: 1}\nc: *anchor\n",
    "",
])
def test_distinct_keys_merges_and_aliases_are_not_repeats(text):
    assert repeated_key(text) is None


def test_a_config_file_with_a_repeated_key_is_refused_naming_it(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("experiments:\n  a: {}\n")
    bad.write_text("experiments:\n  a: {}\nexperiments:\n  b: {}\n")
    check_config_files([good])
    with pytest.raises(PlanError) as info:
        check_config_files([good, bad])
    message = str(info.value)
    assert str(bad) in message and "'experiments'" in message and "lines 1 and 3" in message


def test_files_that_are_not_plain_yaml_are_left_to_snakemake(tmp_path):
    (tmp_path / "c.json").write_text('{"experiments": {"a": {}}}')
    (tmp_path / "t.yaml").write_text("__use_yte__: true\n?if true:\n  a: 1\n?else:\n  a: 2\n")
    check_config_files([tmp_path / "c.json", tmp_path / "t.yaml", tmp_path / "missing.yaml"])


# --- --config strings --------------------------------------------------------------------------
def test_strings_become_the_schema_types():
    given = {"params": {"size": "256", "iterations": "100", "style_weight": "1e5", "content_weight": "0.5",
                        "lr": "null", "shift": "~", "scales": ["64", "128"], "scale_iterations": "20",
                        "style_layer_weights": ["1", "2e3"]},
             "execution": {"threads": "2", "checkpoint_seconds": "0", "cudnn_benchmark": "true",
                           "channels_last": "false", "weights_file": "null", "batch_size": "1"},
             "claims": "null", "results_array": "null",
             "evaluation": {"name": "gatys", "size": "64", "content_weight": "1", "metrics": ["ssim_content"]}}
    assert coerce_overrides(given, SCHEMA) == {
        "params": {"size": 256, "iterations": 100, "style_weight": 1.0e5, "content_weight": 0.5, "lr": None,
                   "shift": None, "scales": [64, 128], "scale_iterations": 20, "style_layer_weights": [1, 2000.0]},
        "execution": {"threads": 2, "checkpoint_seconds": 0, "cudnn_benchmark": True, "channels_last": False,
                      "weights_file": None, "batch_size": 1},
        "claims": None, "results_array": None,
        "evaluation": {"name": "gatys", "size": 64, "content_weight": 1, "metrics": ["ssim_content"]}}


def test_a_string_where_the_schema_takes_one_stays_a_string():
    given = {"params": {"weights": "1e5", "init": "123", "content_layers": "relu4_2", "style_layer_weights": "gatys",
                        "loss": "l1"},
             "execution": {"device": "cpu", "channels_last": "auto", "weights_file": "1e5.pth"},
             "claims": "true", "pairs": [{"content": "007", "style": "1e5"}], "evaluation": "gatys"}
    assert coerce_overrides(given, SCHEMA) == given


def test_a_string_that_fits_no_type_is_left_for_the_schema_to_name():
    given = {"params": {"size": "big", "iterations": "2.5", "style_weight": "inf"}, "execution": {"threads": "yes"}}
    assert coerce_overrides(given, SCHEMA) == given


def test_value_lists_are_read_as_their_parameters():
    given = {"experiments": {"e": {"vary": {"style_weight": ["1e5", "1e6"]}, "set": {"iterations": "3"},
                                   "grid": {"init": ["zeros", "123"], "shift": ["null", "0.5"]}}}}
    assert coerce_overrides(given, SCHEMA) == {
        "experiments": {"e": {"vary": {"style_weight": [1.0e5, 1.0e6]}, "set": {"iterations": 3},
                              "grid": {"init": ["zeros", "123"], "shift": [None, 0.5]}}}}


def test_overrides_replace_their_strings_in_the_merged_config():
    config = {"params": {"size": "256", "seed": 0}, "execution": {"threads": "2"}, "claims": "claims.yaml"}
    apply_overrides(config, {"params": {"size": 256}, "execution": {"threads": 2}})
    assert config == {"params": {"size": 256, "seed": 0}, "execution": {"threads": 2}, "claims": "claims.yaml"}
