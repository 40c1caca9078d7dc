"""Zero-shot label transfer (the StyleAlign application; no public code exists, so the protocol is ours).

Models trained ONLY on parent-domain (Noto) train images and labels (an emoji-category classifier, a
skin-tone classifier, a foreground segmenter) are scored on child-domain (Twemoji) test images:

* route a (``translated``): the child image is inverted into the child and the aligned parent image is
  generated from the same code (any ``to_parent`` callable, e.g. :func:`.translate_route.route_a` of a generator
  pair, imported from there as it loads the inversion code; or a folder of translated ``<id>.png``);
* route b (``latent``): an MLP on parent latents applied to child latents;
* against ``direct`` (the parent model on the raw child images), ``supervised`` (trained on child labels,
  the upper bound), ``chance`` (the majority class) and, for masks, the non-white ``threshold`` mask.

Category and mask are scored on the base emoji of the test split, skin tone on the emoji with skin-tone
variants (:mod:`.tasks`); intervals resample base emoji (:mod:`.evaluate`). :class:`.models.ToneAttribute`
turns a skin-tone classifier into an attribute model (images -> numbers) for ``control_transfer``.
:mod:`.sample_categories` measures a generator: the category histogram of its samples under the category model,
against the parent data set's true and predicted categories.

    from stylealign_core.analysis.zeroshot import train_task, evaluate_models, write_results
    train_task("data/noto", "category", "models/zeroshot")
    table, metrics = evaluate_models("models/zeroshot", "data/twemoji", to_parent=fn)
"""
from .errors import ZeroShotError
from .evaluate import accuracy, balanced_accuracy, grouped_bootstrap, image_miou, mask_iou, non_white_mask
from .models import ForegroundSegmenter, ImageClassifier, LatentClassifier, ToneAttribute, predict, prepare_images
from .protocol import METHODS, BootstrapSettings, LatentInputs, evaluate_task, metrics_json, results_table
from .run import evaluate_models, load_task_model, model_path, train_task, write_results
from .sample_categories import HistogramSettings, category_histogram, tv_distance, write_histogram
from .tasks import TASKS, TaskData, task_data
from .train import TrainSettings, load_model, save_model, train_latent_classifier, train_model

__all__ = ["BootstrapSettings", "ForegroundSegmenter", "HistogramSettings", "ImageClassifier", "LatentClassifier",
           "LatentInputs", "METHODS", "TASKS", "TaskData", "ToneAttribute", "TrainSettings", "ZeroShotError",
           "accuracy", "balanced_accuracy", "category_histogram", "evaluate_models", "evaluate_task",
           "grouped_bootstrap", "image_miou", "load_model", "load_task_model", "mask_iou", "metrics_json",
           "model_path", "non_white_mask", "predict", "prepare_images", "results_table", "save_model", "task_data",
           "train_latent_classifier", "train_model", "train_task", "tv_distance", "write_histogram",
           "write_results"]
