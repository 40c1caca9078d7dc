"""Zero-shot scores with known answers: balanced accuracy, mask IoU, the non-white threshold, the grouped bootstrap."""
import numpy as np
import pytest
import torch

from stylealign_core.analysis.zeroshot import (ZeroShotError, accuracy, balanced_accuracy, grouped_bootstrap,
                                               image_miou, mask_iou, non_white_mask)


def test_balanced_accuracy_known_answers():
    truth = np.array([0] * 8 + [1] * 2)
    majority = np.zeros(10, int)
    assert accuracy(majority, truth) == pytest.approx(0.8)
    assert balanced_accuracy(majority, truth) == pytest.approx(0.5)  # recall 1 and 0
    pred = np.array([0] * 6 + [1] * 2 + [1, 0])  # class 0: 6/8, class 1: 1/2
    assert accuracy(pred, truth) == pytest.approx(0.7)
    assert balanced_accuracy(pred, truth) == pytest.approx((0.75 + 0.5) / 2)
    # a class only predicted, never true, does not count as a class
    assert balanced_accuracy(np.array([2, 0, 1]), np.array([0, 0, 1])) == pytest.approx((0.5 + 1.0) / 2)
    with pytest.raises(ZeroShotError):
        accuracy(np.zeros(3), np.zeros(4))


def test_mask_iou_known_answers():
    truth = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    truth[0, 0, :2, :] = True             # 8 foreground pixels
    pred = torch.zeros_like(truth)
    pred[0, 0, :1, :] = True              # 4 of them
    iou = mask_iou(pred, truth)
    assert iou[0, 1] == pytest.approx(4 / 8)   # foreground
    assert iou[0, 0] == pytest.approx(8 / 12)  # background: 8 shared of 12
    assert iou[1].tolist() == [1.0, 1.0]       # empty foreground in both: perfect
    assert image_miou(pred, truth).tolist() == pytest.approx([(0.5 + 8 / 12) / 2, 1.0])


def test_non_white_threshold_mask():
    images = torch.full((1, 3, 2, 3), 255, dtype=torch.uint8)
    images[0, 2, 0, 0] = 240      # blue channel below 255 - 8: foreground
    images[0, :, 1, 2] = 250      # light grey within the tolerance: background
    images[0, 0, 0, 1] = 0        # red channel 0: foreground
    mask = non_white_mask(images)
    assert mask[0, 0].tolist() == [[True, True, False], [False, False, False]]
    as_float = images.float() / 127.5 - 1
    assert torch.equal(non_white_mask(as_float), mask)
    truth = torch.tensor([[[[True, False, False], [False, False, False]]]])
    assert image_miou(mask, truth)[0] == pytest.approx((1 / 2 + 4 / 5) / 2)


def test_grouped_bootstrap_keeps_variants_together():
    values = np.array([1.0, 1.0, 1.0, 0.0])   # base A (3 variants) all right, base B wrong
    groups = np.array(["A", "A", "A", "B"])
    seen = []

    def mean_of(idx):
        seen.append(np.sort(idx))
        return float(values[idx].mean())

    low, high = grouped_bootstrap(mean_of, groups, resamples=400, seed=3)
    for idx in seen:  # every draw has A's rows as whole copies
        counts = np.bincount(idx, minlength=4)
        assert counts[0] == counts[1] == counts[2]
        assert counts[0] + counts[3] == 2  # two groups drawn
    stats = {round(float(values[i].mean()), 6) for i in seen}
    assert stats <= {0.0, 0.75, 1.0}   # AA, AB, BB: never a row-level mix such as 0.5
    assert (low, high) == (0.0, 1.0)   # BB has probability 1/4, AA 1/4: both tails reached
    assert grouped_bootstrap(mean_of, groups, 400, seed=3) == (low, high)  # seeded


def test_grouped_bootstrap_narrows_with_more_groups():
    rng = np.random.default_rng(0)
    small, large = rng.random(10) < 0.7, rng.random(1000) < 0.7
    lo_s, hi_s = grouped_bootstrap(lambda i: small[i].mean(), np.arange(10), 300, seed=0)
    lo_l, hi_l = grouped_bootstrap(lambda i: large[i].mean(), np.arange(1000), 300, seed=0)
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    assert lo_l < large.mean() < hi_l
