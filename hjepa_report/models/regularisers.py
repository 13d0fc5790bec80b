"""The anti-collapse terms H-JEPA adds to its JEPA loss, on the context encoder's output, as its trainer calls them.

H-JEPA (jonwiggins/H-JEPA @ eb995a0) passes `context_features` (the context encoder's whole output [B, 1+N, D],
CLS included) to the loss; `combined` (src/losses/combined.py CombinedLoss) and `hjepa_sigreg` /
`sigreg_combined` (HJEPASIGRegLoss) split the batch into halves a = x[:B//2], b = x[B//2 : 2*(B//2)] (the same
tensor twice when B < 2) and flatten patches: [B/2 * (1+N), D] (`flatten_patches`, default true; false:
[B/2, (1+N) D]).

VICReg (Bardes et al. 2022, arXiv:2105.04906; src/losses/vicreg.py VICRegLoss):
  inv = MSE(a, b); var(z) = mean_d relu(gamma - sqrt(Var_d(z) + eps)) with the unbiased variance;
  cov(z) = mean over the D(D-1) off-diagonal entries of C^2, C = (z - mean)^T (z - mean) / max(1, n - 1);
  VICReg = l_inv inv + l_var (var(a) + var(b)) / 2 + l_cov (cov(a) + cov(b)) / 2. CombinedLoss builds it with
  eps 1e-8 (its own eps, not VICRegLoss's 1e-4) and gamma 1; the total adds vicreg_weight[0] * VICReg.
SIGReg (Balestriero & LeCun 2025, LeJEPA, arXiv:2511.08544; src/losses/sigreg.py SIGRegLoss): M random unit
  directions (torch.randn(M, D) normalised; drawn again for view b unless `fixed_slices`), each projection
  standardised by its mean and unbiased std (+ eps) and tested with Epps-Pulley: "reference_points" (17 normal
  quantiles at linspace(0.01, 0.99), Gaussian kernel: mean k(x,x) - 2 mean k(x,g) + mean k(g,g)) or
  "char_function" (LeWorldModel, arXiv:2603.19312: trapezoid integral over t in [t_min, t_max] of
  exp(-t^2 / 2 lambda^2) |phi_N(t) - exp(-t^2/2)|^2); SIGReg = (T(a) + T(b)) / 2, the mean over directions.
  HJEPASIGRegLoss adds sigreg_loss_weight * SIGReg (not the invariance term, which it only logs).

The run drew fresh random directions every step; the report draws them from a seeded generator (the same
directions at every evaluation, so a loss landscape is a function of the weights), which the caption states.
Directions are processed in chunks (and recomputed in the backward pass) so that memory stays bounded on
real batches: the sum is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

CHUNK_BYTES = 256 * 2**20  # the largest [m, n, n] kernel block held at once


@dataclass
class Regulariser:
    """One anti-collapse term of an H-JEPA loss: its kind, its weight in the total and its parameters."""

    kind: str  # vicreg | sigreg
    weight: float  # multiplier of the term in the total loss
    params: dict = field(default_factory=dict)

    def describe(self) -> str:
        """A short formula for captions."""
        if self.kind == "vicreg":
            p = self.params
            return (
                f"{self.weight:g} x VICReg({p['invariance']:g} inv + {p['variance']:g} var + "
                f"{p['covariance']:g} cov) on the context encoder's output, batch halves as the two views"
            )
        p = self.params
        return (
            f"{self.weight:g} x SIGReg ({p['num_slices']} seeded directions, Epps-Pulley {p['test_method']}) on "
            "the context encoder's output, batch halves as the two views"
        )


def views(context: torch.Tensor, flatten: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The two 'views' H-JEPA regularises: the batch halves of the context output, flattened to 2-D."""
    if context.shape[0] >= 2:
        mid = context.shape[0] // 2
        a, b = context[:mid], context[mid : 2 * mid]
    else:
        a = b = context
    if flatten and a.ndim == 3:
        return a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    return a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)


def regularise(reg: Regulariser, context: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The term's logged values under H-JEPA's names; key "weighted" is what the total adds."""
    with torch.autocast(context.device.type, enabled=False):  # float32 as the run computed it
        a, b = views(context.float(), reg.params.get("flatten", True))
        if reg.kind == "vicreg":
            return _vicreg(a, b, reg)
        if reg.kind == "sigreg":
            return _sigreg(a, b, reg, seed)
    raise ValueError(f"unknown regulariser {reg.kind!r}")


def _vicreg(a: torch.Tensor, b: torch.Tensor, reg: Regulariser) -> dict[str, torch.Tensor]:
    """CombinedLoss.forward with context features: the names it logs (vicreg_loss is already weighted)."""
    p = reg.params
    inv = F.mse_loss(a, b)
    var = (variance_term(a, p["gamma"], p["eps"]) + variance_term(b, p["gamma"], p["eps"])) / 2
    cov = (covariance_term(a) + covariance_term(b)) / 2
    total = p["invariance"] * inv + p["variance"] * var + p["covariance"] * cov
    weighted = reg.weight * total
    return {
        "weighted": weighted,
        "vicreg_loss": weighted,
        "vicreg_encoder": total,
        "vicreg_invariance": inv,
        "vicreg_variance": var,
        "vicreg_covariance": cov,
    }


def variance_term(z: torch.Tensor, gamma: float, eps: float) -> torch.Tensor:
    """mean_d relu(gamma - sqrt(Var_d(z) + eps)), unbiased variance (VICRegLoss._variance_loss)."""
    return F.relu(gamma - torch.sqrt(z.var(dim=0) + eps)).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """Mean of the squared off-diagonal covariances (VICRegLoss._covariance_loss: .mean(), not sum / D)."""
    n, d = z.shape
    z = z - z.mean(dim=0, keepdim=True)
    cov = (z.T @ z) / max(1, n - 1)
    return cov[~torch.eye(d, dtype=torch.bool, device=z.device)].pow(2).mean()


def _sigreg(a: torch.Tensor, b: torch.Tensor, reg: Regulariser, seed: int) -> dict[str, torch.Tensor]:
    """HJEPASIGRegLoss.forward: SIGReg of each view with its own directions (the same ones if fixed_slices)."""
    p = reg.params
    generator = torch.Generator(device="cpu").manual_seed(seed)
    slices_a = directions(p["num_slices"], a.shape[1], generator).to(a.device)
    slices_b = slices_a if p.get("fixed_slices") else directions(p["num_slices"], b.shape[1], generator).to(a.device)
    term = (sliced_test(a, slices_a, p) + sliced_test(b, slices_b, p)) / 2
    return {"weighted": reg.weight * term, "sigreg_loss": term, "sigreg_invariance": F.mse_loss(a, b)}


def directions(count: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random unit vectors of R^dim: normalised standard normals (SIGRegLoss._generate_random_slices,
    drawn on the CPU so a seed gives the same directions on every machine)."""
    return F.normalize(torch.randn(count, dim, generator=generator), p=2, dim=1)


def sliced_test(z: torch.Tensor, slices: torch.Tensor, params: dict) -> torch.Tensor:
    """Mean Epps-Pulley statistic of the projections of z [n, D] on slices [M, D] (SIGRegLoss._sigreg_loss)."""
    projections = (z @ slices.T).T.contiguous()  # [M, n]
    n = projections.shape[1]
    per_row = n * n if params["test_method"] == "reference_points" else n * params["num_quadrature"]
    step = max(1, CHUNK_BYTES // (4 * per_row))
    stats = []
    for start in range(0, projections.shape[0], step):
        chunk = projections[start : start + step]
        if torch.is_grad_enabled() and chunk.requires_grad:
            from torch.utils.checkpoint import checkpoint

            stats.append(checkpoint(epps_pulley, chunk, params, use_reentrant=False))
        else:
            stats.append(epps_pulley(chunk, params))
    return torch.cat(stats).mean()


def epps_pulley(x: torch.Tensor, params: dict) -> torch.Tensor:
    """Epps-Pulley statistic of each row of x [M, n] after standardising the row (EppsPulleyTest.forward)."""
    eps = params["eps"]
    x = (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + eps)
    if params["test_method"] == "char_function":
        return _char_function(x, params)
    if params["test_method"] != "reference_points":
        raise ValueError(f"unknown Epps-Pulley variant {params['test_method']!r}")
    k = params["num_points"]
    q = torch.linspace(0.01, 0.99, k)
    g = (torch.erfinv(2 * q - 1) * math.sqrt(2)).to(x.device)
    n = x.shape[-1]
    xx = _gaussian_kernel(x, x).sum(dim=(-2, -1)) / n**2
    xg = _gaussian_kernel(x, g.expand(len(x), -1)).sum(dim=(-2, -1)) / (n * k)
    gg = _gaussian_kernel(g, g).sum() / k**2
    return xx - 2 * xg + gg


def _gaussian_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """exp(-(x_i - y_j)^2 / 2) for every pair [..., n, m] (EppsPulleyTest._kernel)."""
    return torch.exp(-0.5 * (x.unsqueeze(-1) - y.unsqueeze(-2)) ** 2)


def _char_function(x: torch.Tensor, params: dict) -> torch.Tensor:
    """Trapezoid integral of w(t) |phi_N(t) - phi_0(t)|^2 (EppsPulleyTest._char_function_forward)."""
    t = torch.linspace(params["t_min"], params["t_max"], params["num_quadrature"]).to(x.device)
    tx = x.unsqueeze(-1) * t.view(1, 1, -1)
    phi_0 = torch.exp(-0.5 * t**2)
    diff = (torch.cos(tx).mean(dim=1) - phi_0) ** 2 + torch.sin(tx).mean(dim=1) ** 2
    weight = torch.exp(-0.5 * t**2 / params["lambda"] ** 2)
    dt = (t[-1] - t[0]) / (len(t) - 1)
    return torch.trapz(diff * weight, dx=dt.item(), dim=-1)
