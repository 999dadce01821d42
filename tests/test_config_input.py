"""nst.study.config_input: repeated keys in config files (issue 19, item 13). The workflow side
is tests/test_workflow_config.py."""
from __future__ import annotations

import pytest
import yaml

from nst.errors import PlanError
from nst.study.config_input import check_config_files, repeated_key

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
