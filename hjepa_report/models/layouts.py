"""The JepaModel class of each checkpoint layout, and the one place a rebuilt network is wrapped in it.

Both the shape-based loader (loading.py) and the --model-factory escape hatch (factory.py) end here, so a
network gets the same interface and parameter counts whichever way it was built.
"""

from __future__ import annotations


def model_class(layout: str):
    """Return the JepaModel subclass of a layout ('hjepa' | 'ijepa' | 'stable-pretraining'), imported on first use."""
    if layout == "hjepa":
        from .hjepa_model import HJepaModel

        return HJepaModel
    if layout == "ijepa":
        from .ijepa_model import IJepaModel

        return IJepaModel
    if layout == "stable-pretraining":
        from .stable_pretraining_model import EncoderOnlyModel

        return EncoderOnlyModel
    raise ValueError(f"unknown model layout {layout!r} (hjepa, ijepa or stable-pretraining)")


def make_model(layout: str, network, info, device):
    """Wrap a network in the layout's JepaModel and fill the parameter counts."""
    model = model_class(layout)(network, info, device)
    info.param_counts = model.parameter_counts()
    return model
