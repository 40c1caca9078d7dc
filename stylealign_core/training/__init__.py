"""Training: the StyleGAN2 loss, ADA augmentation, the training loop with snapshots and resume,
and data-parallel execution. Parent training and child fine-tuning share one loop."""
