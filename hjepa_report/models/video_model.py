"""VideoModel: a V-JEPA / V-JEPA 2 checkpoint's rebuilt networks with the analysis entry points as methods.

The networks are vjepa_nets.py's (the original computation); this wrapper gives them the roles the report's
pass meter (models/meter.py) hooks by name - context_encoder, target_encoder, predictor - and a device, so a
clip's passes are counted and timed as an image's are. `encode_clips` returns the target (or context)
encoder's tubelet tokens of whole, unmasked clips; `embed_clips` their mean over all tubelet tokens, the clip
embedding the representations section measures (V-JEPA's frozen evaluations pool the same tokens with an
attentive probe instead; the mean is the parameter-free choice, as the image path's mean-pooled patch tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .video_networks import build_video_networks
from .vjepa_nets import VideoGrid, VideoNetworks

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..collect.run import CheckpointRef

CLIP_BATCH = 4  # clips per forward pass (a clip has depth x an image's tokens; attention is explicit, N x N)
POOLING = "mean over all tubelet tokens (time slots x rows x columns) of the target encoder's output"


@dataclass
class VideoModel:
    """One checkpoint's rebuilt video networks, on `device`."""

    networks: VideoNetworks
    checkpoint: str
    device: torch.device
    meter = None  # set by PassMeter.attach
    meter_checkpoint = None

    @property
    def context_encoder(self):
        return self.networks.encoder

    @property
    def target_encoder(self):
        return self.networks.target_encoder

    @property
    def predictor(self):
        return self.networks.predictor

    @property
    def grid(self) -> VideoGrid:
        return self.networks.target_encoder.grid

    def encode_clips(self, clips: torch.Tensor, encoder: str = "target") -> torch.Tensor:
        """Tubelet tokens [B, N, D] (float32, on the CPU) of clips [B, C, T, H, W] at the built size, unmasked,
        in batches of CLIP_BATCH: each clip goes through the encoder once."""
        import torch

        net = self.target_encoder if encoder == "target" else self.context_encoder
        out = []
        with torch.inference_mode():
            for start in range(0, len(clips), CLIP_BATCH):
                batch = clips[start : start + CLIP_BATCH].to(self.device)
                out.append(net(batch).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.grid.tokens, 0)

    @staticmethod
    def embed(tokens: torch.Tensor) -> torch.Tensor:
        """The clip embedding [B, D] of tokens [B, N, D]: their mean over all tubelet tokens (POOLING)."""
        return tokens.mean(dim=1)


def load_video_model(ref: CheckpointRef, config: dict, layout: str, settings) -> VideoModel:
    """Rebuild a V-JEPA (2) checkpoint's networks (raises ModelBuildError / ReportError in one line) on the
    report's device."""
    from ..collect.checkpoints import load_checkpoint
    from .loading import resolve_device

    raw = load_checkpoint(ref.path, trust=settings.trust_checkpoints)
    networks = build_video_networks(raw, config, layout, settings.encoder_heads, settings.predictor_heads)
    device = resolve_device(getattr(settings, "device", "auto") or "auto")
    for net in (networks.encoder, networks.target_encoder, networks.predictor):
        net.to(device)
    return VideoModel(networks, ref.name, device)
