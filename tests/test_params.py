"""params.yaml loading and validation: every error names the file and the dotted key."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from stylealign_core.params import SECTIONS, ParamsError, load_params, validate_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base_doc() -> dict:
    return yaml.safe_load((ROOT / "smoke" / "params.yaml").read_text())


def write(tmp_path: Path, doc, name="params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def edited(doc: dict, dotted: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, leaf = dotted.split(".")
    node = doc
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return doc


@pytest.mark.parametrize("path", ["params.yaml", "smoke/params.yaml"])
def test_shipped_params_load(path):
    p = load_params(ROOT / path)
    assert p.root == (ROOT / path).parent
    assert p.finetune.train.batch > 0
    assert p.data.parent.style == "google" and p.data.child.style == "twitter"


def test_smoke_params_need_no_shipped_parent():
    assert load_params(ROOT / "smoke" / "params.yaml").parent.is_init


def test_relative_paths_resolve_against_the_params_file(tmp_path, base_doc):
    p = load_params(write(tmp_path, base_doc))
    assert p.resolve(p.finetune.out) == (tmp_path / "runs" / "child").resolve()
    assert p.resolve("/abs/x") == Path("/abs/x")


def test_the_example_from_the_issue(tmp_path, base_doc):
    path = write(tmp_path, edited(base_doc, "finetune.train.batch", "abc"))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == f"{path}: finetune.train.batch: expected int, got 'abc'"
    assert err.value.key == "finetune.train.batch"


@pytest.mark.parametrize("dotted, value, key, words", [
    ("data.resolution", 48, "data.resolution", "power of two"),
    ("data.resolution", "64", "data.resolution", "expected int"),
    ("data.resolution", 128, "data.resolution", "emoji images are 64 px and never upsampled"),
    ("data.limit", 0, "data.limit", "> 0"),
    ("data.test_fraction", 1.5, "data.test_fraction", "[0, 1)"),
    ("data.child.style", "apple", "data.child.style", "unknown emoji style 'apple'"),
    ("data.child.source", "ftp", "data.child.source", "one of 'emoji', 'folder'"),
    ("data.child.colour", 1, "data.child.colour", "unknown key"),
    ("parent.uri", "http://example.com/x.pkl", "parent.uri", "https"),
    ("parent.uri", "", "parent.uri", "must not be empty"),
    ("parent.sha256", "abc", "parent.sha256", "64 hex digits"),
    ("parent.init.network.z_dim", -1, "parent.init.network.z_dim", "> 0"),
    ("parent.init.network.channels", 3, "parent.init.network.channels", "unknown key"),
    ("finetune.resume", "earliest", "finetune.resume", "'latest'"),
    ("finetune.grid.columns", 2.5, "finetune.grid.columns", "expected int"),
    ("finetune.train.precision", "fp64", "finetune.train.precision", "fp64"),
    ("finetune.train.total_kimg", -1, "finetune.train.total_kimg", "> 0"),
    ("finetune.train.network.channel_base", "big", "finetune.train.network.channel_base", "expected int"),
    ("finetune.train.finetune.freeze", ["mapping", "wings"], "finetune.train.finetune.freeze", "wings"),
    ("finetune.train.lr", 0.1, "finetune.train.lr", "unknown key"),
    ("finetune.train.device", "tpu", "finetune.train.device", "'cpu' or 'cuda[:N]'"),
    ("finetune.train.cond", "yes", "finetune.train.cond", "expected bool"),
    ("finetune.train", [1, 2], "finetune.train", "expected a mapping"),
    ("invert.steps", "many", "invert.steps", "expected int"),
    ("invert.limit", 0, "invert.limit", "> 0"),
    ("invert.space", "q", "invert.space", "'w+'"),
    ("invert.metric", "ssim", "invert.metric", "unknown perceptual metric 'ssim'"),
    ("invert.task_runner", "spark", "invert.task_runner", "local, dask, dask://HOST:PORT"),
    ("invert.device", "tpu", "invert.device", "'cpu' or 'cuda[:N]'"),
    ("invert.out", " ", "invert.out", "non-empty path"),
    ("translate.boot", 0, "translate.boot", "> 0"),
    ("translate.metric", "ssim", "translate.metric", "auto, none, stlpips-vgg"),
    ("translate.swap_res", 12, "translate.swap_res", "power of two"),
    ("translate.truncation_psi", "half", "translate.truncation_psi", "expected float"),
    ("morph.frames", 1, "morph.frames", ">= 2"),
    ("morph.pairs", [["1F600"]], "morph.pairs[0]", "two ids [a, b]"),
    ("morph.pairing", "random", "morph.pairing", "'same', 'next'"),
    ("morph.gif", True, "morph.gif", "unknown key"),
])
def test_bad_values_name_the_key(tmp_path, base_doc, dotted, value, key, words):
    path = write(tmp_path, edited(base_doc, dotted, value))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert words in msg, msg
    assert err.value.key == key


def test_unknown_section(tmp_path, base_doc):
    known = "data, parent, finetune, invert, translate, morph, analyze, report"
    with pytest.raises(ParamsError, match=rf"params.yaml: inversion: unknown section \(known: {known}\)"):
        load_params(write(tmp_path, {**base_doc, "inversion": {}}))


def test_sections_are_the_stages():
    assert list(SECTIONS) == ["data", "parent", "finetune", "invert", "translate", "morph", "analyze", "report"]


def test_folder_source_needs_a_path(tmp_path, base_doc):
    doc = edited(base_doc, "data.child", {"source": "folder", "out": "data/mine"})
    with pytest.raises(ParamsError, match=r": data.child.path: required when source is 'folder'"):
        load_params(write(tmp_path, doc))
    doc = edited(base_doc, "data.child", {"source": "folder", "path": "imgs", "out": "data/mine"})
    assert load_params(write(tmp_path, doc)).data.child.path == "imgs"


def test_emoji_is_never_upsampled_but_folders_may_be_any_power_of_two(tmp_path, base_doc):
    doc = edited(base_doc, "data.resolution", 16)
    assert load_params(write(tmp_path, doc)).data.resolution == 16
    doc = edited(base_doc, "data.resolution", 128)
    for which in ("parent", "child"):
        doc = edited(doc, f"data.{which}", {"source": "folder", "path": f"imgs-{which}", "out": f"data/{which}"})
    assert load_params(write(tmp_path, doc)).data.resolution == 128


def test_missing_required_key(tmp_path, base_doc):
    doc = edited(base_doc, "data.child", {"style": "twitter"})
    with pytest.raises(ParamsError, match=r": data.child.out: missing \(required\)"):
        load_params(write(tmp_path, doc))


def test_overlapping_outputs_are_refused(tmp_path, base_doc):
    doc = edited(base_doc, "finetune.out", "data/emoji-twitter-32/run")
    with pytest.raises(ParamsError, match=r": finetune.out: output path .* overlaps data.child.out"):
        load_params(write(tmp_path, doc))
    doc = edited(base_doc, "morph.out", "runs/invert/morph")
    with pytest.raises(ParamsError, match=r": morph.out: output path .* overlaps invert.out"):
        load_params(write(tmp_path, doc))


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "data:\n  resolution: 64\n  seed: [1, 2\n")
    with pytest.raises(ParamsError, match=r"params.yaml: not valid YAML \(line \d+"):
        load_params(path)


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="expected a mapping of sections"):
        load_params(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ParamsError, match=r"nope.yaml: file not found"):
        load_params(tmp_path / "nope.yaml")


def test_defaults_fill_missing_sections():
    p = validate_params({"parent": {"uri": "init"}}, source="x/params.yaml")
    assert p.data.child.out == "data/emoji-twitter-64" and p.finetune.train.batch == 32
    assert p.section("finetune")["train"]["betas"] == [0.0, 0.99]
