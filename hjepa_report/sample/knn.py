"""k-NN probe of a sample network: mean-pooled target-encoder patch tokens, cosine similarity, majority vote.

Used for the online_eval/knn_accuracy scalar during training and by benchmarks/eval_sample_knn.py. Method:
unweighted k-NN classification as in H-JEPA's online evaluation (HJEPATrainer._run_online_eval, scikit-learn
KNeighborsClassifier with metric='cosine'); features are the target encoder's patch tokens after the final
norm, averaged over patches (CLS excluded). Ties in the vote go to the lowest class index.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .recipe import IMAGENET_MEAN, IMAGENET_STD


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 with ImageNet mean / std (H-JEPA's transforms use these)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


@torch.no_grad()
def pooled_features(network, images: np.ndarray, batch_size: int = 128) -> torch.Tensor:
    """Return [N, D]: target-encoder patch tokens (CLS dropped) averaged over patches, for uint8 [N, H, W, 3]."""
    encoder = network.target_encoder
    prefix = encoder.vit.num_prefix_tokens
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2)
        chunks.append(encoder(normalise(batch))[:, prefix:].mean(dim=1))
    return torch.cat(chunks)


def knn_accuracy(
    bank: torch.Tensor, bank_labels: np.ndarray, queries: torch.Tensor, query_labels: np.ndarray, k: int = 5
) -> float:
    """Return the k-NN accuracy in percent (cosine similarity, unweighted majority vote over k neighbours)."""
    similarity = F.normalize(queries, dim=1) @ F.normalize(bank, dim=1).T
    neighbours = similarity.topk(k, dim=1).indices
    votes = torch.from_numpy(np.asarray(bank_labels))[neighbours]
    num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
    counts = F.one_hot(votes, num_classes).sum(dim=1)
    predicted = counts.argmax(dim=1).numpy()
    return float((predicted == np.asarray(query_labels)).mean() * 100.0)


# Held-out data for the k-NN benchmark: seeds no training or validation set uses (those come from
# numpy SeedSequence([run seed, purpose]) in make.py).
BANK_SEED, QUERY_SEED = 900_001, 900_002


def fresh_sets(recipe, per_class: int):
    """Generate the held-out bank and query sets (recipe's shape settings, seeds BANK_SEED / QUERY_SEED)."""
    from .data import make_shape_set

    shapes = recipe.shape_settings()
    return make_shape_set(per_class, BANK_SEED, **shapes), make_shape_set(per_class, QUERY_SEED, **shapes)


def fresh_image_knn(network, recipe, per_class: int = 100, sets=None) -> float:
    """k-NN accuracy (%) on freshly generated images: a bank and a query set from two held-out seeds
    (`sets` = fresh_sets(recipe, per_class) when given, to reuse them), k = recipe.knn_k."""
    bank_set, query_set = sets if sets is not None else fresh_sets(recipe, per_class)
    bank = pooled_features(network, bank_set.images)
    queries = pooled_features(network, query_set.images)
    return knn_accuracy(bank, bank_set.labels, queries, query_set.labels, recipe.knn_k)
