"""The networks of any V-JEPA-family checkpoint: V-JEPA and V-JEPA 2 (vjepa_nets.py) or V-JEPA 2.1, whose
encoder outputs several levels and whose predictor has its own modules (vjepa21_nets.py). One entry point, so
the sections need not know which generation wrote the run, and the two builders do not import each other.
"""

from __future__ import annotations

from collections.abc import Mapping


def build_video_networks(
    checkpoint: Mapping, config: dict, layout: str, num_heads: int | None = None, pred_heads: int | None = None
):
    """Rebuild encoder, target encoder and predictor of a V-JEPA (layout vjepa), V-JEPA 2 or V-JEPA 2.1 (vjepa2)
    checkpoint: a vjepa_nets.VideoNetworks. Raises ModelBuildError on anything that cannot be rebuilt exactly."""
    from .vjepa21_nets import build_vjepa21_networks, is_vjepa21

    if layout == "vjepa2" and is_vjepa21(checkpoint, config):
        return build_vjepa21_networks(checkpoint, config, num_heads, pred_heads)
    from .vjepa_nets import build_vjepa_networks

    return build_vjepa_networks(checkpoint, config, layout, num_heads, pred_heads)
