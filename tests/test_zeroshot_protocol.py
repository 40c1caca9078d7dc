"""The zero-shot protocol on tiny emoji-like data sets: the split per task, the routes, the report keys."""
import pytest
import torch

from stylealign_core.analysis.zeroshot import (BootstrapSettings, LatentInputs, TrainSettings, ZeroShotError,
                                               evaluate_models, load_model, save_model, task_data,
                                               train_task)
from test_zeroshot_helpers import one_thread, save_png_folder, write_emoji_like  # noqa: F401 (autouse fixture)

TINY = TrainSettings(epochs=3, batch=16, width=4, resolution=16, shift=1)
BOOT = BootstrapSettings(resamples=50, seed=0)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("zs")
    parent, child = write_emoji_like(root / "parent", style=0), write_emoji_like(root / "child", style=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: runs before the per-test one_thread fixture
    try:
        for task in ("category", "skin_tone", "mask"):
            train_task(parent, task, root / "models", TINY, progress=False)
    finally:
        torch.set_num_threads(threads)
    return root, parent, child


def test_task_subsets(pair):
    _, parent, _ = pair
    cat_train, cat_test = task_data(parent, "category", "train"), task_data(parent, "category", "test")
    assert len(cat_train.ids) == 6 * 6 + 6 and len(cat_test.ids) == 4   # test: base emoji only
    assert all("-T" not in i for i in cat_test.ids)
    variants = cat_train.weights[[k for k, i in enumerate(cat_train.ids) if i.startswith("E000")]]
    assert torch.allclose(variants, torch.full((6,), 1 / 6))           # a base with 5 variants counts once
    tone_test = task_data(parent, "skin_tone", "test")
    assert sorted(set(tone_test.groups)) == ["E012", "E013"] and len(tone_test.ids) == 12
    assert tone_test.classes == [0, 1, 2, 3, 4, 5]
    mask_test = task_data(parent, "mask", "test")
    assert mask_test.targets.dtype == torch.bool and mask_test.targets.shape == (4, 1, 16, 16)
    with pytest.raises(ZeroShotError, match="does not know"):
        task_data(parent, "category", "test", classes=["A"])


def test_identity_to_parent_equals_direct(pair):
    root, parent, child = pair
    table, metrics = evaluate_models(root / "models", child, to_parent=lambda images: images.clone(), boot=BOOT)
    for task in ("category", "skin_tone", "mask"):
        rows = table[table.task == task].set_index("method")
        cols = ["miou", "miou_low", "miou_high"] if task == "mask" else ["acc", "balanced_acc", "acc_low", "acc_high"]
        assert rows.loc["translated", cols].tolist() == rows.loc["direct", cols].tolist()
    cat, mask = metrics["zeroshot"]["category"], metrics["zeroshot"]["mask"]
    assert cat["acc"] == cat["acc_direct"] and mask["miou"] == mask["miou_direct"]
    assert cat["chance"] == 0.5 and cat["acc_supervised"] is None  # 2 A and 2 B test bases
    assert 0 <= mask["miou_threshold"] <= 1
    assert "acc_threshold" not in cat and "miou_latent" not in mask  # no such routes for those tasks


def test_translation_route_uses_the_translated_images(pair, tmp_path):
    """A folder of the PARENT's own test images (the ideal translation) vs the child images as they are."""
    root, parent, child = pair
    folder = tmp_path / "translated"
    for task in ("category", "skin_tone"):
        ideal = task_data(parent, task, "test")
        save_png_folder(folder, ideal.ids, ideal.images)
    table, metrics = evaluate_models(root / "models", child, tasks=["mask"], translated_folder=folder, boot=BOOT)
    truth_child = task_data(child, "mask", "test").targets
    assert not torch.equal(truth_child, task_data(parent, "mask", "test").targets)  # the styles differ in shape
    row = table.set_index("method")
    assert row.loc["translated", "miou"] != row.loc["direct", "miou"]
    with pytest.raises(ZeroShotError, match="lacks"):
        evaluate_models(root / "models", child, tasks=["category"], translated_folder=tmp_path / "empty", boot=BOOT)


def test_supervised_and_latent_routes(pair):
    root, parent, child = pair
    for task in ("category", "skin_tone", "mask"):
        train_task(child, task, root / "child-models", TINY, progress=False)
    # latents that carry the category in one coordinate, for both domains (ids of both data sets)
    ids = task_data(parent, "category", "train").ids + task_data(parent, "category", "test").ids
    codes = torch.randn(len(ids), 2, 6, generator=torch.Generator().manual_seed(0))
    sign = torch.tensor([1.0 if int(i[1:4]) % 2 == 0 else -1.0 for i in ids])
    codes[:, 0, 0] += 4 * sign
    latents = LatentInputs(ids, codes, ids, codes + 0.1)
    table, metrics = evaluate_models(root / "models", child, tasks=["category", "mask"],
                                     supervised_dir=root / "child-models", parent_data=parent, latents=latents,
                                     boot=BOOT, latent_settings=TrainSettings(epochs=40, batch=16))
    cat = metrics["zeroshot"]["category"]
    assert cat["acc_latent"] == 1.0 and cat["acc"] is None   # no translation given
    assert cat["acc_supervised"] is not None and metrics["zeroshot"]["mask"]["miou_supervised"] is not None
    assert set(table[table.task == "mask"].method) == {"direct", "supervised", "chance", "threshold"}
    wrong = root / "wrong"
    model, _ = load_model(root / "child-models" / "category.json")
    save_model(wrong / "skin_tone", model, "skin_tone", ["A", "B"], TINY)   # a category model filed as skin tone
    with pytest.raises(ZeroShotError, match="classes"):
        evaluate_models(root / "models", child, tasks=["skin_tone"], supervised_dir=wrong, boot=BOOT)


def test_to_parent_may_return_floats_at_another_size(pair):
    """A generator's output: floats in [-1, 1], here at half size; the masks are scored at the truth's size."""
    root, _, child = pair

    def half_size_floats(images):
        return torch.nn.functional.interpolate(images.float() / 127.5 - 1, scale_factor=0.5, mode="area")

    table, _ = evaluate_models(root / "models", child, to_parent=half_size_floats, boot=BOOT)
    translated = table[table.method == "translated"].set_index("task")
    assert 0 <= translated.loc["mask", "miou"] <= 1 and 0 <= translated.loc["category", "acc"] <= 1
    with pytest.raises(ZeroShotError, match="must return"):
        evaluate_models(root / "models", child, tasks=["category"], to_parent=lambda images: images[:, :1], boot=BOOT)
