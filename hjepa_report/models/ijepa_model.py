"""IJepaModel: the analysis interface over an IJepaNetwork (I-JEPA semantics, see ijepa.py).

The public masks are patch masks like H-JEPA's: context_mask [B, N] bool, True = hidden. Internally they
become I-JEPA's index lists (ascending patch indices, as the MaskCollator makes them). Samples whose
numbers of visible patches (or target-block sizes) differ are processed one at a time, exactly, instead of
being cut to the batch minimum as the training collator does; the results are zero-padded with ``valid``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .api import EncoderOutput, JepaModel, Prediction, check_context, exact
from .ijepa import IJepaNetwork
from .tokens import as_mask_list, pad_rows, visible_indices


def block_indices(targets, hidden: torch.Tensor | None, batch: int) -> list[list[torch.Tensor]]:
    """Per sample, per target block, ascending patch indices.

    targets: None (one block = the hidden patches), a [B, N] bool mask, a [B, M, N] bool stack, a list of
    [B, N] bool masks, or a list of [B, K] index tensors (I-JEPA's masks_pred)."""
    if targets is None:
        targets = hidden
    if isinstance(targets, torch.Tensor) and targets.dtype != torch.bool:  # [M, B, K] or [B, K] indices
        targets = list(targets) if targets.ndim == 3 else [targets]
    if isinstance(targets, (list, tuple)):
        first = torch.as_tensor(targets[0])
        if first.dtype != torch.bool:  # masks_pred: list over blocks of [B, K] indices
            return [[torch.as_tensor(t)[b].long() for t in targets] for b in range(batch)]
        targets = torch.stack([torch.as_tensor(t) for t in targets], dim=1)
    targets = torch.as_tensor(targets).bool()
    if targets.ndim == 2:
        targets = targets[:, None]
    return [[blk.nonzero()[:, 0] for blk in sample] for sample in targets]


def _uniform(rows) -> bool:
    return len({tuple(r.shape) for r in rows}) == 1


class IJepaModel(JepaModel):
    """I-JEPA: no CLS, hidden tokens dropped, one prediction per target block and patch, no hierarchy."""

    layout = "ijepa"
    network: IJepaNetwork

    @property
    def context_encoder(self):
        return self.network.encoder

    @property
    def target_encoder(self):
        return self.network.target_encoder if self.info.ema_target else self.network.encoder

    @property
    def predictor(self):
        return self.network.predictor

    def encoder_pair(self):
        return (self.network.encoder, self.network.target_encoder) if self.info.ema_target else None

    def loss_masks(self, masks, batch: int):
        """I-JEPA trains with (masks_enc, masks_pred): lists of [B, K] patch-index tensors, one per context and
        target block, as its MaskCollator returns them."""
        enc, pred = masks
        lists = [[torch.as_tensor(m).to(self.device) for m in as_mask_list(group)] for group in (enc, pred)]
        if any(m.ndim != 2 or len(m) != batch for group in lists for m in group):
            raise ValueError(f"I-JEPA loss masks are lists of [{batch}, K] patch-index tensors")
        return tuple(lists)

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
        """Encode [B, 3, S, S]; context_mask [B, N] bool (True = hidden) DROPS those tokens.

        Without a mask T = N; with one, T = the largest visible count (padded per sample, see valid)."""
        self.check("encoder")
        if attention_layers:
            self.check("attention")
        images = self.images(images)
        mask = self.mask(context_mask, len(images))
        vit, layers = self.encoder(encoder), attention_layers or ()
        if mask is None:
            keep = [torch.arange(self.info.num_patches, device=self.device)] * len(images)
        else:
            keep = visible_indices(mask)
            if min(len(k) for k in keep) == 0:
                raise ValueError("a context_mask row hides every patch; I-JEPA's encoder needs at least one")
        if _uniform(keep):
            out = vit.forward_features(
                images,
                keep_indices=torch.stack(keep) if mask is not None else None,
                attention_layers=layers,
                return_blocks=return_blocks,
            )
            tokens, attn, blocks = out.tokens, out.attentions, out.blocks
            indices, valid = (
                torch.stack(keep),
                torch.ones(len(keep), len(keep[0]), dtype=torch.bool, device=self.device),
            )
        else:
            outs = [
                vit.forward_features(
                    images[b : b + 1], keep_indices=k[None], attention_layers=layers, return_blocks=return_blocks
                )
                for b, k in enumerate(keep)
            ]
            tokens, valid = pad_rows([o.tokens[0] for o in outs])
            indices = pad_rows(keep)[0]
            attn = {i: pad_rows([o.attentions[i][0] for o in outs], axes=(1, 2))[0] for i in outs[0].attentions}
            blocks = {i: pad_rows([o.blocks[i][0] for o in outs])[0] for i in outs[0].blocks}
        return EncoderOutput(
            tokens=tokens,
            patch_tokens=tokens,
            patch_indices=indices,
            valid=valid,
            attentions=attn,
            blocks=blocks,
            num_prefix_tokens=0,
            hidden=mask,
        )

    @exact
    def predict(
        self, images_or_context, context_mask, targets=None, *, target: EncoderOutput | None = None
    ) -> Prediction:
        """Predict every target block from the visible patches, as I-JEPA's predictor.

        targets: target blocks (see block_indices); default one block = the hidden patches. The entries of
        each sample are its blocks one after another ([B, sum_j K_j, D], block says which). target: the
        target encoder's unmasked EncoderOutput (computed when omitted); the returned targets are its tokens
        after F.layer_norm without affine weights (eps 1e-5), as I-JEPA's loss (src/train.py)."""
        self.check("predictor")
        if context_mask is None:
            raise ValueError("I-JEPA predict needs a context_mask: the predictor sees only the visible patches")
        context = images_or_context
        if not isinstance(context, EncoderOutput):
            context = self.encode(images_or_context, encoder="context", context_mask=context_mask)
        if target is None:
            if not isinstance(images_or_context, torch.Tensor):
                raise ValueError("pass target= (the target EncoderOutput) when giving a context output")
            target = self.encode(images_or_context, encoder="target")
        batch = len(context.tokens)
        hidden = self.mask(context_mask, batch)
        check_context(context, hidden)
        blocks = [[i.to(self.device) for i in sample] for sample in block_indices(targets, hidden, batch)]
        normed = F.layer_norm(target.tokens, (target.tokens.shape[-1],))
        if bool(context.valid.all()) and _uniform([blk for sample in blocks for blk in sample]):
            predicted = self._predict_batch(context, blocks)
            valid = torch.ones(predicted.shape[:2], dtype=torch.bool, device=self.device)
        else:
            predicted, valid = pad_rows([self._predict_sample(context, b, blocks[b]) for b in range(batch)])
        flat = [torch.cat(sample) for sample in blocks]
        indices = pad_rows(flat)[0]
        block_ids = pad_rows([torch.cat([torch.full_like(i, j) for j, i in enumerate(s)]) for s in blocks])[0]
        target_rows = pad_rows([normed[b, flat[b]] for b in range(batch)])[0]
        return Prediction(
            predicted=predicted,
            target=target_rows,
            indices=indices,
            valid=valid,
            block=block_ids,
            target_kind="layer-normed target-encoder tokens (F.layer_norm, no affine), as I-JEPA's loss",
        )

    def _predict_batch(self, context: EncoderOutput, blocks: list[list[torch.Tensor]]) -> torch.Tensor:
        """All samples at once (equal context and block sizes): [B, M * K, D], blocks one after another."""
        masks_pred = [torch.stack([sample[j] for sample in blocks]) for j in range(len(blocks[0]))]
        out = self.network.predictor(context.patch_tokens, [context.patch_indices], masks_pred)
        m, b = len(masks_pred), len(blocks)
        return out.reshape(m, b, *out.shape[1:]).transpose(0, 1).reshape(b, -1, out.shape[-1])

    def _predict_sample(self, context: EncoderOutput, b: int, blocks: list[torch.Tensor]) -> torch.Tensor:
        """Predictions [sum_j K_j, D] for one sample; blocks of equal size go through the predictor together."""
        n = int(context.valid[b].sum())
        tokens, keep = context.patch_tokens[b : b + 1, :n], context.patch_indices[b : b + 1, :n]
        if _uniform(blocks):
            out = self.network.predictor(tokens, [keep], [blk[None] for blk in blocks])
            return out.reshape(-1, out.shape[-1])
        return torch.cat([self.network.predictor(tokens, [keep], [blk[None]])[0] for blk in blocks])

    @exact
    def levels(self, tokens: torch.Tensor, valid: torch.Tensor | None = None, levels=None):
        """I-JEPA has no hierarchy: level 0 is the tokens themselves."""
        if any(level != 0 for level in (levels or [0])):
            raise ValueError("I-JEPA models have a single level (0)")
        return [(tokens, valid)]

    def level_targets(self, targets: torch.Tensor, valid: torch.Tensor | None = None, levels=None):
        """The loss targets: Prediction.target is already what I-JEPA's loss sees (layer-normed tokens)."""
        return self.levels(targets, valid, levels)
