"""Do the label-free measures agree with the class probe on this run? Spearman rank correlation across checkpoints.

Label-free measures are what a user has without labels (RankMe, LiDAR, alpha-ReQ, the SIGReg isotropy statistic,
the prediction cosine, the logged validation loss); whether any of them tracks downstream quality on a given
run is an empirical question (RankMe can mislead on JEPA-style models). With labels, each measure is correlated
with the leave-one-out kNN accuracy over the evaluated checkpoints by Spearman's rho (Pearson correlation of
average ranks; Spearman 1904), each measure oriented so that "better" is positive (e.g. a lower isotropy
statistic or loss is better). A measure "agrees" on this run when its oriented rho >= AGREES over at least
MIN_CHECKPOINTS checkpoints; the best-checkpoint rule (checkpoints.best_checkpoint) then ranks by kNN and the
measures that agree, and says which.
"""

from __future__ import annotations

import numpy as np

AGREES = 0.5
MIN_CHECKPOINTS = 4
ORIENTATION = {  # measure -> +1 higher is better, -1 lower is better
    "rankme": 1,
    "rankme_tokens": 1,
    "lidar": 1,
    "alpha_gap": -1,  # |alpha-ReQ - 1|
    "isotropy": -1,
    "prediction_cosine": 1,
    "val_loss": -1,
}


def spearman(a, b) -> float | None:
    """Spearman's rho of two equal-length sequences; None with fewer than 3 pairs or a constant one."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3:
        return None
    ra, rb = rankdata(a), rankdata(b)  # average ranks for ties
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def agreement(rows: list[dict]) -> dict:
    """Per label-free measure present in every row: its oriented Spearman rho with knn_accuracy, whether it
    agrees, and over how many checkpoints; {} without kNN accuracies."""
    rows = [dict(r, alpha_gap=None if r.get("alpha_req") is None else abs(r["alpha_req"] - 1.0)) for r in rows]
    if not rows or any(r.get("knn_accuracy") is None for r in rows):
        return {}
    knn = [r["knn_accuracy"] for r in rows]
    found = {}
    for measure, sign in ORIENTATION.items():
        if any(r.get(measure) is None for r in rows):
            continue
        rho = spearman([sign * r[measure] for r in rows], knn)
        found[measure] = {
            "rho": rho,
            "checkpoints": len(rows),
            "agrees": rho is not None and len(rows) >= MIN_CHECKPOINTS and rho >= AGREES,
        }
    return found
