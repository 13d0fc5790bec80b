"""FeatureCache: one per report, so each image passes each network at most once.

Entries are per image and keyed by (checkpoint, encoder, image id, mask id); mask id None means unmasked.
Missing images are encoded in batches of `batch_size` (16: as fast as 64 on CPUs and far lighter) under
``torch.inference_mode()`` and stored on the CPU. Attention maps and block outputs are kept only for the
blocks asked for; declare the union that the passes need up front (``FeatureCache(attention_layers=...)``)
or a later, wider request re-encodes the affected images (counted in ``stats['re-encoded']``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .api import EncoderOutput, Prediction
from .tokens import pad_rows


@dataclass
class _Entry:
    """One image's encoder outputs, unpadded."""

    tokens: torch.Tensor  # [T, D]
    patch_indices: torch.Tensor  # [P]
    prefix: int
    attentions: dict[int, torch.Tensor]  # {block: [H, T, T]}
    blocks: dict[int, torch.Tensor]  # {block: [T, D]}
    hidden: torch.Tensor | None


def _split(out: EncoderOutput) -> list[_Entry]:
    """Cut a batch output into per-image entries without padding."""
    entries = []
    for b in range(len(out.tokens)):
        n = out.num_prefix_tokens + int(out.valid[b].sum())
        entries.append(
            _Entry(
                tokens=out.tokens[b, :n].cpu(),
                patch_indices=out.patch_indices[b, : n - out.num_prefix_tokens].cpu(),
                prefix=out.num_prefix_tokens,
                attentions={i: a[b, :, :n, :n].cpu() for i, a in out.attentions.items()},
                blocks={i: x[b, :n].cpu() for i, x in out.blocks.items()},
                hidden=None if out.hidden is None else out.hidden[b].cpu(),
            )
        )
    return entries


def _stack(entries: list[_Entry], layers, blocks: bool) -> EncoderOutput:
    """Re-assemble per-image entries into one (zero-padded) batch output."""
    prefix = entries[0].prefix
    tokens, _ = pad_rows([e.tokens for e in entries])
    indices, valid = pad_rows([e.patch_indices for e in entries])
    attentions = {i: pad_rows([e.attentions[i] for e in entries], axes=(1, 2))[0] for i in layers}
    block_out = {i: pad_rows([e.blocks[i] for e in entries])[0] for i in entries[0].blocks} if blocks else {}
    hidden = None if entries[0].hidden is None else torch.stack([e.hidden for e in entries])
    return EncoderOutput(
        tokens=tokens,
        patch_tokens=tokens[:, prefix:],
        patch_indices=indices,
        valid=valid,
        attentions=attentions,
        blocks=block_out,
        num_prefix_tokens=prefix,
        hidden=hidden,
    )


class FeatureCache:
    """Per-report cache of encoder outputs and predictions (see module docstring)."""

    def __init__(self, *, attention_layers: Sequence[int] = (), return_blocks: bool = False, batch_size: int = 16):
        self.attention_layers = tuple(sorted(set(attention_layers)))
        self.return_blocks = return_blocks
        self.batch_size = batch_size
        self._entries: dict[tuple, _Entry] = {}
        self._predictions: dict[tuple, Prediction] = {}
        self.stats: Counter = Counter()
        # Set by the report's session: for these checkpoints' (info.checkpoint) unmasked target encodes, every
        # block's output and the last block's attention are computed in the same pass and handed to
        # block_sink(model, output, keys) (which keeps small reductions), without being stored here.
        self.block_checkpoints: set[str] = set()
        self.block_sink = None

    def encode(
        self,
        model,
        images: torch.Tensor,
        image_ids: Sequence[str],
        *,
        encoder: str = "target",
        context_mask: torch.Tensor | None = None,
        mask_id: str | None = None,
        attention_layers: Sequence[int] = (),
        return_blocks: bool = False,
    ) -> EncoderOutput:
        """Encoder outputs for these images (rows of `images`, named by `image_ids`), from the cache when
        present. A context_mask needs a mask_id naming it (the same id must always mean the same mask)."""
        if len(images) != len(image_ids):
            raise ValueError("images and image_ids differ in length")
        if context_mask is not None and mask_id is None:
            raise ValueError("a context_mask needs a mask_id to be cached under")
        depth = model.info.depth
        wanted = {i % depth for i in attention_layers}
        keys = [(model.info.checkpoint, encoder, image_id, mask_id) for image_id in image_ids]
        todo = [b for b, key in enumerate(keys) if self._stale(key, wanted, return_blocks)]
        if todo:
            kept = {i for b in todo if keys[b] in self._entries for i in self._entries[keys[b]].attentions}
            layers = sorted(wanted | kept | set(self.attention_layers))
            self._fill(
                model,
                images,
                context_mask,
                encoder,
                layers,
                return_blocks or self.return_blocks,
                [(b, keys[b]) for b in todo],
            )
        return _stack([self._entries[k] for k in keys], sorted(wanted), return_blocks)

    def forget(self, checkpoint: str) -> None:
        """Drop every encoding and prediction of one checkpoint (its `info.checkpoint`), e.g. once a sweep has
        measured it, so the cache does not grow with the number of checkpoints a report evaluates."""
        self._entries = {k: v for k, v in self._entries.items() if k[0] != checkpoint}
        self._predictions = {k: v for k, v in self._predictions.items() if k[0] != checkpoint}

    def _stale(self, key: tuple, wanted: set, blocks: bool) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return True
        if not wanted <= set(entry.attentions) or (blocks and not entry.blocks):
            self.stats["re-encoded"] += 1
            return True
        return False

    def _fill(self, model, images, context_mask, encoder, layers, blocks, todo) -> None:
        """Encode the missing images in batches under inference mode and store per-image entries."""
        sink = self.block_sink if self._sinks(model, encoder, context_mask) else None
        asked = list(layers)
        if sink is not None and model.info.refusal("attention") is None:
            asked = sorted(set(asked) | {model.info.depth - 1})
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            rows = torch.tensor([b for b, _ in chunk])
            mask = None if context_mask is None else torch.as_tensor(context_mask)[rows]
            with torch.inference_mode():
                out = model.encode(
                    images[rows],
                    encoder=encoder,
                    context_mask=mask,
                    attention_layers=asked,
                    return_blocks=blocks or sink is not None,
                )
            if sink is not None:
                sink(model, out, [key for _, key in chunk])
                out.blocks = out.blocks if blocks else {}
                out.attentions = {i: a for i, a in out.attentions.items() if i in layers}
            for (_, key), entry in zip(chunk, _split(out), strict=True):
                self._entries[key] = entry
            self.stats[f"{encoder} encoder images"] += len(chunk)

    def _sinks(self, model, encoder: str, context_mask) -> bool:
        return (
            self.block_sink is not None
            and encoder == "target"
            and context_mask is None
            and model.info.checkpoint in self.block_checkpoints
        )

    def predict(
        self,
        model,
        images: torch.Tensor,
        image_ids: Sequence[str],
        context_mask: torch.Tensor,
        mask_id: str,
        targets=None,
        targets_id: str | None = None,
    ) -> Prediction:
        """Prediction for these images and masks, reusing cached context / target encodings."""
        if targets is not None and targets_id is None:
            raise ValueError("targets need a targets_id to be cached under")
        key = (model.info.checkpoint, tuple(image_ids), mask_id, targets_id)
        if key not in self._predictions:
            context = _to_device(
                self.encode(model, images, image_ids, encoder="context", context_mask=context_mask, mask_id=mask_id),
                model.device,
            )
            target = _to_device(self.encode(model, images, image_ids, encoder="target"), model.device)
            with torch.inference_mode():
                pred = model.predict(context, context_mask, targets, target=target)
            self._predictions[key] = Prediction(
                **{k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in vars(pred).items()}
            )
            self.stats["predictor batches"] += 1
        return self._predictions[key]


def _to_device(out: EncoderOutput, device) -> EncoderOutput:
    """Return a cached (CPU) output on `device`, e.g. to pass it to model.predict(..., target=out)."""
    moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in vars(out).items()}
    moved["attentions"] = {i: a.to(device) for i, a in out.attentions.items()}
    moved["blocks"] = {i: x.to(device) for i, x in out.blocks.items()}
    return EncoderOutput(**moved)
