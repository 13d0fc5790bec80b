"""Predictions and representations: what the predictor gets right and what the encoders' embeddings look like.

Two sections: `prediction_section` (predictor output against targets, per level) and `embedding_section` (the
target encoder's embedding space and its course over the checkpoints). `metrics` holds the pure, tested
measures (RankMe, alpha-ReQ, VICReg terms, LiDAR, kNN and linear-probe accuracy); `predictions` the
prediction-vs-target errors; `embedding` the projections, neighbours and accuracies; `lidar` LiDAR on
augmented views; `checkpoint_sweep` and `checkpoints` the measures across checkpoints; `checks` the health
checks; `figures`, `prediction_figures`, `checkpoint_figures` and `captions` what present draws.
"""
