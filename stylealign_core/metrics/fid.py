"""Frechet Inception Distance with the stylegan2-ada-pytorch conventions.

Statistics are float64: the mean and the covariance *divided by N* (not N - 1) of the float32
features; FID = |mu_gen - mu_real|^2 + tr(S_gen + S_real - 2 sqrtm(S_gen S_real)), real part, with
``scipy.linalg.sqrtm`` (as the official ``compute_fid``). FID is biased upwards at small sample
counts: always report the counts, and KID beside it for small data sets.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg


def mean_cov(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 mean and covariance (normalised by N) of ``[N, D]`` features."""
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature rows [N, D], got shape {features.shape}")
    x64 = np.asarray(features, np.float32).astype(np.float64)
    mean = x64.sum(axis=0) / len(x64)
    cov = x64.T @ x64 / len(x64) - np.outer(mean, mean)
    return mean, cov


def frechet_distance(mu_real: np.ndarray, sigma_real: np.ndarray, mu_gen: np.ndarray,
                     sigma_gen: np.ndarray) -> float:
    """The Frechet distance of two Gaussians, computed as the official code does."""
    if mu_real.shape != mu_gen.shape or sigma_real.shape != sigma_gen.shape:
        raise ValueError(f"statistics differ in shape: {mu_real.shape}/{sigma_real.shape} vs "
                         f"{mu_gen.shape}/{sigma_gen.shape}")
    mean_term = np.square(mu_gen - mu_real).sum()
    root = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real))  # as the official code (its disp=False is deprecated)
    return float(np.real(mean_term + np.trace(sigma_gen + sigma_real - root * 2)))


def compute_fid(real_features: np.ndarray, gen_features: np.ndarray) -> float:
    """FID between two feature sets ``[N, 2048]``."""
    return frechet_distance(*mean_cov(real_features), *mean_cov(gen_features))
