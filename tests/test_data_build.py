"""Data sets from the pipeline's settings (folder + limit -> subset), and a folder set's licence files."""
import json
import os

import pytest

from stylealign_core.data import DataError, build_folder_dataset, read_manifest, read_metadata
from stylealign_core.data.build import build_dataset, dataset_request, describes, write_subset
from stylealign_core.data.license_texts import LICENSE_TEXTS
from test_data_helpers import write_mixed_folder


@pytest.fixture
def images(tmp_path):
    write_mixed_folder(tmp_path / "in")
    return tmp_path / "in"


def test_folder_build_carries_licence_and_attribution(images, tmp_path):
    out = build_folder_dataset(images, tmp_path / "ds", 8, progress=False, license="CC-BY-4.0",
                               attribution="Photos by A. Author, https://example.org/photos")
    lic = (out / "LICENSE").read_text()
    assert lic.startswith("The images of this data set are licensed under CC-BY-4.0.\n")
    assert LICENSE_TEXTS["CC-BY-4.0"] in lic and lic.endswith("See ATTRIBUTION.txt for the attribution.\n")
    assert (out / "ATTRIBUTION.txt").read_text() == "Photos by A. Author, https://example.org/photos\n"
    source = read_metadata(out)["source"]
    assert source["license"] == "CC-BY-4.0" and source["attribution"] == "ATTRIBUTION.txt"

    (tmp_path / "MY-LICENSE.txt").write_text("All rights reserved, shared for research only.")
    (tmp_path / "credits.txt").write_text("Line one\nLine two\n\n")
    out = build_folder_dataset(images, tmp_path / "ds2", 8, progress=False, license=str(tmp_path / "MY-LICENSE.txt"),
                               attribution=str(tmp_path / "credits.txt"))
    assert (out / "LICENSE").read_text() == "All rights reserved, shared for research only.\n"
    assert (out / "ATTRIBUTION.txt").read_text() == "Line one\nLine two\n"
    assert read_metadata(out)["source"]["license"] == "see LICENSE (from MY-LICENSE.txt)"
    plain = build_folder_dataset(images, tmp_path / "ds3", 8, progress=False)
    assert not (plain / "LICENSE").exists() and "license" not in read_metadata(plain)["source"]


@pytest.mark.parametrize("license, attribution, message", [
    ("no/such/licence.txt", None, "neither an existing file nor a licence identifier"),
    ("MIT", "   ", "the attribution is empty"),
])
def test_bad_licence_options_fail_before_any_work(images, tmp_path, license, attribution, message):
    with pytest.raises(DataError, match=message):
        build_folder_dataset(images, tmp_path / "ds", 8, progress=False, license=license, attribution=attribution)
    assert sorted(os.listdir(tmp_path)) == ["in"]


def test_a_limited_build_is_the_first_images_with_licence_files_and_no_scratch_left(images, tmp_path):
    full = build_folder_dataset(images, tmp_path / "full", 8, progress=False, license="MIT", attribution="me")
    request = dataset_request("folder", None, str(images), 8, 0, 0.1, 3)
    out = build_dataset(tmp_path / "small", **request)
    meta = read_metadata(out)
    assert meta["num_images"] == 3 and meta["subset"] == {"limit": 3, "of": 7, "order": "data set order"}
    assert meta["name"] == "small"  # the name of the directory asked for, not of the scratch build
    assert list(read_manifest(out)["id"]) == list(read_manifest(full)["id"])[:3]
    assert read_manifest(out)["split"].tolist() == read_manifest(full)["split"].tolist()[:3]
    assert describes(meta, request) and not describes(meta, dict(request, seed=1))
    assert not describes(meta, dict(request, limit=4)) and not describes(meta, dict(request, path="elsewhere"))
    assert sorted(os.listdir(tmp_path)) == ["full", "in", "small"]
    subset = write_subset(full, tmp_path / "two", 2)
    assert (subset / "LICENSE").read_text() == (full / "LICENSE").read_text()
    assert (subset / "ATTRIBUTION.txt").read_text() == "me\n"
    assert json.loads((subset / "dataset.json").read_text())["source"]["license"] == "MIT"
    with pytest.raises(DataError, match="limit 0 is not a positive integer"):
        write_subset(full, tmp_path / "none", 0)
    with pytest.raises(DataError, match="unknown data source 'web'"):
        build_dataset(tmp_path / "w", "web", None, None, 8, 0, 0.1, None)
