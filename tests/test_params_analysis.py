"""params.yaml's `analyze` and `report` sections: validated on load, errors name the key."""
import pytest

from stylealign_core.params import ParamsError, load_params

from test_params import ROOT, base_doc, edited, write  # noqa: F401 - base_doc is a fixture


def test_both_params_files_have_the_sections_with_every_count():
    for path in (ROOT / "params.yaml", ROOT / "smoke" / "params.yaml"):
        p = load_params(path)
        raw = p.raw["analyze"]
        for key in ("num_gen", "num_real", "kid_subsets", "kid_subset_size", "fid"):
            assert key in raw["fid_kid"], (path, key)  # written out, not left to a default
        assert "num_gen" in raw["reset"] and "latents" in raw["alignment"] and "out" in p.raw["report"]
    default, smoke = load_params(ROOT / "params.yaml").analyze, load_params(ROOT / "smoke" / "params.yaml").analyze
    assert not default.full and not default.zeroshot.enabled and not default.controls.enabled
    assert smoke.fid_kid.num_gen < default.fid_kid.num_gen and smoke.fid_kid.fid == "none"


@pytest.mark.parametrize("dotted, value, message", [
    ("analyze.fid_kid.num_gen", "many", "analyze.fid_kid.num_gen: expected int, got 'many'"),
    ("analyze.fid_kid.num_gen", 1, "analyze.fid_kid.num_gen"),
    ("analyze.fid_kid.kid_subsets", 0, "analyze.fid_kid.kid_subsets"),
    ("analyze.fid_kid.fid", "all", "analyze.fid_kid.fid"),
    ("analyze.reset.components", ["mapping", "decoder"], "analyze.reset.components"),
    ("analyze.alignment.latnts", 4, "analyze.alignment.latnts"),
    ("analyze.zeroshot.translated", "yes", "analyze.zeroshot.translated: expected bool"),
    ("analyze.zeroshot.invert.steps", 0, "analyze.zeroshot.invert.steps"),
    ("analyze.zeroshot.invert.space", "q", "analyze.zeroshot.invert.space"),
    ("analyze.zeroshot.invert.metric", "lpips-vgg", "analyze.zeroshot.invert.metric"),
    ("report.out", "", "report.out: must be a non-empty path"),
    ("report.colour", "red", "report.colour"),
])
def test_bad_values_fail_naming_the_key(tmp_path, base_doc, dotted, value, message):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, edited(base_doc, dotted, value)))
    assert message in str(err.value), str(err.value)


def test_outputs_must_not_overlap(tmp_path, base_doc):
    with pytest.raises(ParamsError, match="report.out: output path 'runs/analyze' overlaps analyze.out"):
        load_params(write(tmp_path, edited(base_doc, "report.out", "runs/analyze")))


def test_full_size_counts_replace_the_defaults_only_when_opted_in(tmp_path, base_doc):
    p = load_params(write(tmp_path, edited(base_doc, "analyze.full", True)))
    eff = p.analyze.effective()
    assert (eff.fid_kid.num_gen, eff.fid_kid.num_real, eff.reset.num_gen) == (2000, None, 1000)
    assert p.analyze.fid_kid.num_gen == 6  # the validated section itself is unchanged


def test_route_a_projector_is_the_invert_sections_with_the_zeroshot_overrides(tmp_path, base_doc):
    p = load_params(ROOT / "params.yaml")
    assert p.analyze.zeroshot.translated and p.analyze.zeroshot.route_a_invert(p.invert) == p.invert  # all null
    doc = edited(edited(base_doc, "analyze.zeroshot.invert.steps", 7), "analyze.zeroshot.invert.batch", 3)
    p = load_params(write(tmp_path, doc))
    route = p.analyze.zeroshot.route_a_invert(p.invert)
    assert (route.steps, route.batch, p.invert.steps, p.invert.batch) == (7, 3, 5, 2)
    assert route.projector_settings() == {**p.invert.projector_settings(), "steps": 7}
    assert (route.metric, route.seed, route.space) == (p.invert.metric, p.invert.seed, p.invert.space)
