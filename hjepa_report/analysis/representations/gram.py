"""Dense features between checkpoints: drift of the patch-token Gram matrix.

For one image with patch tokens X [N, D], the Gram matrix G = X_n X_n^T of the L2-normalised tokens X_n holds
the cosine similarity of every pair of patches: the image's dense structure, independent of any rotation or
per-token scaling of the feature space. DINOv3 (Simeoni et al. 2025, arXiv:2508.10104, "Gram anchoring")
keeps it close to an earlier model's during long training because dense features can degrade while global
measures improve. The drift of a checkpoint c from the reference checkpoint r is the mean over the sample
images of ||G_c - G_r||_F / ||G_r||_F: 0 for identical dense structure, growing as patch similarities change.
"""

from __future__ import annotations

import numpy as np

METHOD = "patch-token Gram drift ||G_c - G_last||_F / ||G_last||_F (DINOv3 Gram anchoring, Simeoni et al. 2025)"


def gram_matrices(patch_tokens: np.ndarray) -> np.ndarray:
    """Per image, the cosine similarities of its L2-normalised patch tokens: [B, N, D] -> [B, N, N] float32."""
    x = np.asarray(patch_tokens, np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return np.einsum("bnd,bmd->bnm", x, x)


def gram_drift(grams: np.ndarray, reference: np.ndarray) -> float:
    """Mean over images of ||G - G_ref||_F / ||G_ref||_F (see the module docstring)."""
    diff = np.linalg.norm((grams - reference).reshape(len(grams), -1).astype(np.float64), axis=1)
    ref = np.linalg.norm(reference.reshape(len(reference), -1).astype(np.float64), axis=1)
    return float(np.mean(diff / np.maximum(ref, 1e-12)))
