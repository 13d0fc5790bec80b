"""PassMeter: counts and times every pass through a run's networks, the report's compute floor (issue 13).

A report's wall time is its network passes (forwards, and backwards for gradient flow) plus everything else:
loading, projections, checks, figures, writing. The meter attaches forward hooks to a JepaModel's networks
(context encoder, target encoder, predictor) and times each call, with the images it carried, the checkpoint,
the section it served and whether autograd was recording; JepaModel.backward times each backward pass. So
the report itself says how long its bare network passes took (the floor that only faster arithmetic can
lower) and how many images passed each network per checkpoint (each once, unless a pass re-encodes).

Counts are deterministic; seconds are measured (perf_counter, after torch.cuda.synchronize on a GPU).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class NetworkPass:
    """One call of one network (or one backward pass through the model)."""

    network: str  # "context_encoder", "target_encoder", "predictor" or "backward"
    checkpoint: str
    section: str
    images: int  # the batch size of the call
    grad: bool  # autograd recorded the forward (a backward follows)
    seconds: float


@dataclass
class PassMeter:
    """Records NetworkPass entries; `section` is set by whoever runs the passes (the pipeline)."""

    section: str = ""
    passes: list[NetworkPass] = field(default_factory=list)

    def attach(self, model, checkpoint: str) -> None:
        """Time every forward of `model`'s networks from now on; `model.meter` is set for its backward passes.
        A network shared by two roles (end-to-end runs: one encoder) is hooked once."""
        model.meter, model.meter_checkpoint = self, checkpoint
        seen: set[int] = set()
        for role in ("context_encoder", "target_encoder", "predictor"):
            module = getattr(model, role, None)
            if module is None or id(module) in seen:
                continue
            seen.add(id(module))
            self._hook(module, role, checkpoint, model.device)

    def _hook(self, module, name: str, checkpoint: str, device) -> None:
        """Time each pass from the first block's input to the last block's output (see _span)."""
        import torch

        first, last = _span(module)
        starts: list[tuple[float, int]] = []

        def before(_module, args):
            _sync(device)
            images = next((int(a.shape[0]) for a in args if isinstance(a, torch.Tensor) and a.ndim), 0)
            starts.append((time.perf_counter(), images))

        def after(_module, _args, _output):
            if not starts:
                return
            _sync(device)
            start, images = starts.pop()
            self.record(name, checkpoint, images, torch.is_grad_enabled(), time.perf_counter() - start)

        first.register_forward_pre_hook(before)
        last.register_forward_hook(after)

    def record(self, network: str, checkpoint: str, images: int, grad: bool, seconds: float) -> None:
        """Add one pass."""
        self.passes.append(NetworkPass(network, checkpoint, self.section, images, grad, seconds))

    def timed_backward(self, loss, checkpoint: str, device) -> None:
        """Run loss.backward() and record it, with the batch of the last forward that recorded autograd."""
        images = next((p.images for p in reversed(self.passes) if p.grad), 0)
        _sync(device)
        start = time.perf_counter()
        loss.backward()
        _sync(device)
        self.record("backward", checkpoint, images, True, time.perf_counter() - start)

    @property
    def seconds(self) -> float:
        """Time spent inside the networks' passes: the compute floor of what the report ran."""
        return sum(p.seconds for p in self.passes)

    def summary(self) -> dict:
        """For report.json: the floor, seconds per section, and per (checkpoint, network, grad) the calls,
        images and seconds (the counts show which image went through which network how often)."""
        by_section: dict[str, float] = defaultdict(float)
        groups: dict[tuple, list[NetworkPass]] = defaultdict(list)
        for p in self.passes:
            by_section[p.section] += p.seconds
            groups[(p.checkpoint, p.network, p.grad)].append(p)
        return {
            "network_seconds": round(self.seconds, 3),
            "sections": {k: round(v, 3) for k, v in by_section.items()},
            "passes": [
                {
                    "checkpoint": checkpoint,
                    "network": network,
                    "grad": grad,
                    "calls": len(group),
                    "images": sum(p.images for p in group),
                    "seconds": round(sum(p.seconds for p in group), 3),
                }
                for (checkpoint, network, grad), group in groups.items()
            ],
        }


def block_lists(module) -> list:
    """The non-empty transformer block lists (`blocks` / `predictor_blocks` ModuleLists) inside `module`."""
    from torch import nn

    found = []
    for sub in module.modules():
        for attr in ("blocks", "predictor_blocks"):
            blocks = getattr(sub, attr, None)
            if isinstance(blocks, nn.ModuleList) and len(blocks):
                found.append(blocks)
    return found


def _span(module):
    """Return (first, last) submodule of a network's transformer blocks, the modules every pass runs through
    whichever method called it (encode uses forward_features, the loss calls the module): nearly all of the
    arithmetic, without the patch embedding and final norm. A network without a `blocks` / `predictor_blocks`
    list (a --model-factory one) is timed as a whole, on its own forward calls."""
    lists = block_lists(module)
    return (lists[0][0], lists[0][-1]) if lists else (module, module)


def _sync(device) -> None:
    """Wait for queued GPU work so a CUDA pass is timed, not just launched."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)
