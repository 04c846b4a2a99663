"""FID and KID on feature matrices (N × D), in float64.

FID (Heusel et al. 2017): ||μ₁−μ₂||² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½). The trace of the matrix square root is
computed as Σ√λ of the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (same eigenvalues as Σ₁Σ₂), which is stable
without scipy.

KID (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel k(x,y) = (xᵀy/D + 1)³,
averaged over random subsets; the U-GAT-IT tables report KID×100 as mean ± std over subsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registry import register


def _check(a: np.ndarray, b: np.ndarray, min_n: int) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature matrices must be N×D with the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < min_n:
        raise ValueError(f"need at least {min_n} images per set, got {len(a)} and {len(b)}")


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


@register("fid")
def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet Inception Distance between two feature sets (≥ 2 images each)."""
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    _check(a, b, 2)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s = _sqrtm_psd(cov_a)
    eig = np.linalg.eigvalsh(s @ cov_b @ s)
    tr_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def mmd2_poly(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel on one pair of equal-size sets."""
    d = a.shape[1]
    kxx = (a @ a.T / d + 1) ** 3
    kyy = (b @ b.T / d + 1) ** 3
    kxy = (a @ b.T / d + 1) ** 3
    m = len(a)
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


@dataclass
class KID:
    mean: float
    std: float
    subsets: int
    subset_size: int

    def x100(self) -> str:
        return f"{100 * self.mean:.2f} ± {100 * self.std:.2f}"


@register("kid")
def kid(feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100, subset_size: int | None = None,
        seed: int = 0) -> KID:
    """Kernel Inception Distance: mean ± std of the unbiased MMD² over ``subsets`` random subsets.

    ``subset_size`` defaults to min(1000, half the smaller set): subsets of *all* images would all be
    the same set (std 0), so for the 100-vs-100 protocol each subset draws 50 of each.
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    _check(a, b, 4)
    m = min(subset_size or min(1000, min(len(a), len(b)) // 2), len(a), len(b))
    rng = np.random.default_rng(seed)
    vals = [mmd2_poly(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
            for _ in range(subsets)]
    return KID(float(np.mean(vals)), float(np.std(vals)), subsets, m)
