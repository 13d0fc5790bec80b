"""k-NN accuracy of the committed sample run's checkpoints, against the same network at random init and chance.

Method (hjepa_report/sample/knn.py): features are the target encoder's patch tokens after its final norm,
averaged over the 64 patches (CLS excluded); k = 5 nearest neighbours by cosine similarity, majority vote
(as H-JEPA's online evaluation, HJEPATrainer._run_online_eval with scikit-learn's cosine KNeighborsClassifier).
The bank and the queries are freshly generated images from two held-out seeds (knn.BANK_SEED, QUERY_SEED),
`--per-class` of each of the 8 classes, drawn with the run's shape settings; no image was seen in training.
"Random init" is the run's network rebuilt with the run's seed before any training step (the exact weights
training started from). Chance is 1 / number of classes.

    .venv/bin/python benchmarks/eval_sample_knn.py [RUN_DIR] [--per-class 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "sample_runs" / "hjepa_shapes64"


def evaluate(run_dir: Path, per_class: int) -> list[tuple[str, float]]:
    """Return [(what, k-NN accuracy %)] for random init and every distinct checkpoint of the run."""
    import yaml

    from hjepa_report.collect.checkpoints import load_checkpoint
    from hjepa_report.sample.data import CLASS_NAMES
    from hjepa_report.sample.knn import fresh_image_knn
    from hjepa_report.sample.recipe import recipe_from_config
    from hjepa_report.sample.train import build_network

    recipe = recipe_from_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
    network = build_network(recipe).eval()
    rows = [
        (f"chance (1/{len(CLASS_NAMES)})", 100.0 / len(CLASS_NAMES)),
        (f"random init (seed {recipe.seed})", fresh_image_knn(network, recipe, per_class)),
    ]
    for path in sorted((run_dir / "checkpoints").glob("checkpoint_epoch_*.pth")):
        checkpoint = load_checkpoint(path)
        network.load_state_dict(checkpoint["model_state_dict"], strict=True)
        rows.append(
            (
                f"{path.name} (epoch {checkpoint['epoch']}, step {checkpoint['global_step']})",
                fresh_image_knn(network.eval(), recipe, per_class),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--per-class", type=int, default=100, help="bank and query images per class")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    for what, accuracy in evaluate(args.run_dir, args.per_class):
        print(f"{accuracy:6.2f} %  {what}")
    print(
        f"k = 5, cosine, {args.per_class} bank + {args.per_class} query images per class "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
