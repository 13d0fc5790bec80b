"""Predictions and representations: what the predictor gets right and what the encoders' embeddings look like.

`metrics` holds the pure, tested measures (RankMe, alpha-ReQ, VICReg terms, LiDAR, kNN and linear-probe
accuracy); `embedding` the projections and neighbours; `predictions` the prediction-vs-target analysis;
`checkpoints` the measures across checkpoints; `figures` the matplotlib figures; `section` the two passes.
"""
