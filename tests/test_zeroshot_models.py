"""Zero-shot models: they learn a separable task (and not shuffled labels), round-trip through checkpoints,
and the skin-tone classifier works as an attribute model (images in [-1, 1] -> numbers)."""
import numpy as np
import pytest
import torch

from stylealign_core.analysis.zeroshot import (ForegroundSegmenter, ImageClassifier, LatentClassifier, TaskData,
                                               ToneAttribute, TrainSettings, ZeroShotError, accuracy, load_model,
                                               predict, save_model, train_latent_classifier, train_model)
from test_zeroshot_helpers import colored_shapes, one_thread  # noqa: F401 (autouse fixture)

SETTINGS = TrainSettings(epochs=12, batch=32, width=8, resolution=16, shift=2, lr=3e-3)


def _task(images, labels, classes=(0, 1, 2)):
    return TaskData([str(i) for i in range(len(labels))], images, labels.long(), np.arange(len(labels)),
                    torch.ones(len(labels)), list(classes))


def test_classifier_beats_chance_and_shuffled_labels_do_not():
    images, labels = colored_shapes(120, seed=0)
    test_images, test_labels = colored_shapes(90, seed=1)
    model = train_model("category", _task(images, labels), SETTINGS, progress=False)
    acc = accuracy(predict(model, test_images).argmax(1).numpy(), test_labels.numpy())
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(5))]
    model_s = train_model("category", _task(images, shuffled), SETTINGS, progress=False)
    acc_s = accuracy(predict(model_s, test_images).argmax(1).numpy(), test_labels.numpy())
    chance = np.bincount(test_labels.numpy()).max() / len(test_labels)
    assert acc > 0.9 > chance + 0.4
    assert acc_s < chance + 0.25


def test_training_is_deterministic():
    images, labels = colored_shapes(40, seed=2)
    settings = TrainSettings(epochs=2, batch=16, width=4, resolution=16)
    a = train_model("category", _task(images, labels), settings, progress=False)
    b = train_model("category", _task(images, labels), settings, progress=False)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_latent_classifier_separable_and_shape_check():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=gen)
    latents = torch.randn(200, 3, 8, generator=gen)
    latents[:, 1, 2] += 3.0 * (2 * labels - 1)  # W+-shaped, one coordinate carries the label
    model = train_latent_classifier(latents[:150], labels[:150], 2, settings=TrainSettings(epochs=20, batch=32))
    assert accuracy(predict(model, latents[150:]).argmax(1).numpy(), labels[150:].numpy()) > 0.9
    with pytest.raises(ZeroShotError, match="flatten to 8"):
        model(torch.randn(2, 8))


@pytest.mark.parametrize("make", [lambda: ImageClassifier(num_classes=6, resolution=16, width=4),
                                  lambda: ForegroundSegmenter(resolution=16, width=4),
                                  lambda: LatentClassifier(in_features=24, num_classes=3, hidden=5)])
def test_checkpoint_round_trip(tmp_path, make):
    model = make().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # weights that differ from any fresh init
    save_model(tmp_path / "m", model, "skin_tone", [0, 1, 2, 3, 4, 5], TrainSettings(), source="data/x")
    loaded, meta = load_model(tmp_path / "m.json")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert meta["task"] == "skin_tone" and meta["classes"] == [0, 1, 2, 3, 4, 5] and meta["trained_on"] == "data/x"
    x = torch.randn(3, 24) if isinstance(model, LatentClassifier) else torch.randint(0, 256, (3, 3, 16, 16),
                                                                                     dtype=torch.uint8)
    assert torch.allclose(predict(loaded, x), predict(model, x), atol=1e-6)


def test_tone_attribute_reads_tones():
    model = ImageClassifier(num_classes=6, resolution=16, width=4).eval()
    with torch.no_grad():  # a head that answers tone k with certainty from a fixed feature direction
        for p in model.parameters():
            p.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 50.0, 0.0, 0.0]))
    attribute = ToneAttribute(model, [0, 1, 2, 3, 4, 5])
    values = attribute(torch.rand(4, 3, 32, 32) * 2 - 1)   # floats in [-1, 1], another size
    assert values.shape == (4,) and torch.allclose(values, torch.full((4,), 3.0, dtype=values.dtype), atol=1e-4)
    with pytest.raises(ZeroShotError, match="tones 1..5"):
        ToneAttribute(model, ["A", "B"])
