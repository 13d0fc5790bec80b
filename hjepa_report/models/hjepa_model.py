"""HJepaModel: the analysis interface over an HJepaNetwork (H-JEPA semantics, see hjepa.py)."""

from __future__ import annotations

import torch

from .api import EncoderOutput, JepaModel, Prediction, check_context, exact
from .hjepa import HJepaNetwork
from .tokens import gather_tokens, hidden_indices, pool_level


def union_mask(targets) -> torch.Tensor:
    """OR a [B, N] mask, a [B, M, N] stack or a list of [B, N] masks into one [B, N] mask."""
    if isinstance(targets, (list, tuple)):
        targets = torch.stack([torch.as_tensor(t) for t in targets], dim=1)
    targets = torch.as_tensor(targets)
    if targets.dtype != torch.bool:
        raise ValueError("H-JEPA targets are bool patch masks ([B, N] or [B, M, N], True = predict this patch)")
    return targets.any(dim=1) if targets.ndim == 3 else targets


class HJepaModel(JepaModel):
    """H-JEPA: CLS token, zeroed hidden tokens, one prediction per hidden patch, hierarchy levels."""

    layout = "hjepa"
    network: HJepaNetwork

    @property
    def context_encoder(self):
        return self.network.context_encoder

    @property
    def target_encoder(self):
        return self.network.target

    @property
    def predictor(self):
        return self.network.predictor

    @property
    def hierarchy(self):
        return self.network.hierarchy_projections

    def encoder_pair(self):
        if self.network.target_encoder is None:
            return None
        return self.network.context_encoder.vit, self.network.target_encoder.vit

    loss_outputs = ("encoder", "predictor", "levels")

    def loss_masks(self, masks, batch: int) -> torch.Tensor:
        """H-JEPA trains with one bool [B, N] hidden mask (the union of the target blocks)."""
        return self.mask(masks, batch)

    @exact
    def encode(
        self,
        images: torch.Tensor,
        *,
        encoder: str = "target",
        context_mask=None,
        attention_layers=None,
        return_blocks: bool = False,
    ) -> EncoderOutput:
        """Encode [B, 3, S, S]; context_mask [B, N] bool (True = hidden) zeroes those tokens, sequence kept.

        tokens [B, 1+N, D] with CLS at 0; patch_tokens [B, N, D]; attentions {block: [B, H, 1+N, 1+N]}."""
        self.check("encoder")
        if attention_layers:
            self.check("attention")
        images = self.images(images)
        mask = self.mask(context_mask, len(images))
        vit = self.encoder(encoder).vit
        out = vit.forward_features(
            images, hidden_mask=mask, attention_layers=attention_layers or (), return_blocks=return_blocks
        )
        b, n, p = len(images), self.info.num_patches, vit.num_prefix_tokens
        indices = torch.arange(n, device=self.device).expand(b, n)
        return EncoderOutput(
            tokens=out.tokens,
            patch_tokens=out.tokens[:, p:],
            patch_indices=indices,
            valid=torch.ones(b, n, dtype=torch.bool, device=self.device),
            attentions=out.attentions,
            blocks=out.blocks,
            num_prefix_tokens=p,
            hidden=mask,
        )

    @exact
    def predict(
        self, images_or_context, context_mask, targets=None, *, target: EncoderOutput | None = None
    ) -> Prediction:
        """Predict the target-encoder patch tokens at hidden patches, as HJEPA.forward.

        images_or_context: images [B, 3, S, S] or the context EncoderOutput made with this context_mask;
        targets: patches to predict ([B, N] bool, or several masks that are OR-ed); default: the hidden
        patches. target: the target encoder's EncoderOutput (computed from the images when omitted).
        Returns predicted/target [B, K, D] at indices [B, K] (ascending, padded with 0; K = largest count)."""
        self.check("predictor")
        if context_mask is None and targets is None:
            raise ValueError("predict needs a context_mask (or targets): which patches should be predicted?")
        context = images_or_context
        if not isinstance(context, EncoderOutput):
            context = self.encode(images_or_context, encoder="context", context_mask=context_mask)
        if target is None:
            if not isinstance(images_or_context, torch.Tensor):
                raise ValueError("pass target= (the target EncoderOutput) when giving a context output")
            target = self.encode(images_or_context, encoder="target")
        check_context(context, self.mask(context_mask, len(context.tokens)))
        wanted = union_mask(context_mask if targets is None else targets).to(self.device)
        indices, valid = hidden_indices(self.mask(wanted, len(context.tokens)))
        predicted = self.network.predict(context.patch_tokens, indices)
        return Prediction(
            predicted=predicted,
            target=gather_tokens(target.patch_tokens, indices),
            indices=indices,
            valid=valid,
            block=torch.zeros_like(indices),
            target_kind="target-encoder patch tokens (no extra normalisation), as H-JEPA's loss",
        )

    @exact
    def levels(self, tokens: torch.Tensor, valid: torch.Tensor | None = None, levels=None):
        """Map [B, K, D] tokens to hierarchy levels: projection l, then AvgPool1d(2^l) over the token list
        (with a feature pyramid: projection l of pyramid level l, see fpn.py).
        Returns [(tokens_l [B, K // 2^l, D], valid_l [B, K // 2^l] or None)] for each requested level."""
        self.check("levels")
        wanted = list(range(self.info.num_levels)) if levels is None else list(levels)
        for level in wanted:
            if not 0 <= level < self.info.num_levels:
                raise ValueError(f"level {level} does not exist; this model has {self.info.num_levels} levels")
        outputs = self.network.levels(tokens)
        masks = [None] * len(outputs) if valid is None else self.network.valid_levels(valid.to(self.device))
        return [(outputs[level], masks[level]) for level in wanted]

    def level_targets(self, targets: torch.Tensor, valid: torch.Tensor | None = None, levels=None):
        """The loss targets per level for target tokens [B, K, D] (Prediction.target): with info.target_norm
        "projected" (H-JEPA) the same projection + pooling as `levels`; with "layernorm" the tokens layer-normed
        without parameters, then AvgPool1d(2^l) like the level, no projection. Same return shape as `levels`."""
        if self.info.target_norm == "projected":
            return self.levels(targets, valid, levels)
        wanted = list(range(self.info.num_levels)) if levels is None else list(levels)
        normed = torch.nn.functional.layer_norm(targets, (targets.shape[-1],))
        masks = [None] * self.info.num_levels if valid is None else self.network.valid_levels(valid.to(self.device))
        return [(pool_level(normed, level), masks[level]) for level in wanted]
