"""Training dynamics and loss geometry: why a run behaved as it did.

- hierarchy.py: per-level losses from the logs, their weighted sum vs the logged total, shares, stalls.
- schedules.py: `config_schedule` (LR / weight decay / EMA the config implies) and comparison with the logs.
- drift.py: EMA drift between the context and target encoders per block, across checkpoints.
- loss.py: `jepa_loss`, the run's own training loss on a batch (H-JEPA hierarchical, I-JEPA smooth-L1).
- gradients.py: per-layer gradient norms and gradient-to-weight ratios after one backward pass.
- landscape.py: `filter_normalized_direction`, 2-D loss surface and 1-D interpolation (Li et al. 2018).
- figures.py: the figures; section.py / model_passes.py: the report passes.

Passes: HierarchyLossPass "hierarchy-losses", SchedulesPass "schedules" (section.py), GradientFlowPass
"gradient-flow", LandscapePass "loss-landscape" (model_passes.py).
"""
