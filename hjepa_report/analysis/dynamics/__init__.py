"""Training dynamics and loss geometry: why a run behaved as it did.

Numbers:
- hierarchy.py: per-level losses from the logs, their weighted sum vs the logged total, shares, stalls.
- schedules.py: `config_schedule` (LR / weight decay / EMA the config implies) and comparison with the logs.
- drift.py: EMA drift between the context and target encoders per part, across checkpoints (models/ema.py).
- batch.py: the fixed batch (sample images, one seeded draw of the run's masks) the model passes evaluate the
  run's own loss on; the loss itself is the model's (JepaModel.loss, models/loss.py).
- gradients.py: per-layer gradient norms and gradient-to-weight ratios after one backward pass.
- landscape.py: `filter_normalized_direction`, 2-D loss surface and 1-D interpolation (Li et al. 2018).
- figures.py: the figures.

Passes, one module each, named for the section they show: HierarchyLossPass "hierarchy-losses"
(hierarchy_section.py), SchedulesPass "schedules" (schedules_section.py), GradientFlowPass "gradient-flow"
(gradient_section.py), LandscapePass "loss-landscape" (landscape_section.py).
"""
