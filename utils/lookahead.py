"""Lookahead weight averaging, as airbench uses it (Zhang et al., 2019; Jordan, 2024).

Every few optimizer steps the network is pulled toward a slow moving average of itself and the
average is set to the result: ``slow = decay * slow + (1 - decay) * fast; fast = slow``. With
``decay`` growing from 0 to about 0.77 as ``(step / total)^3`` the average matters only late in
training, where it smooths out the noise of the last, small steps.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import checked, positive_int

__all__ = ["Lookahead", "lookahead_decay"]

EVERY = 5  # optimizer steps between two updates
PEAK_DECAY = 0.95**EVERY  # the decay reached at the last step


@checked(step=positive_int, total=positive_int)
def lookahead_decay(step: int, total: int) -> float:
    """airbench's schedule: ``0.95^5 * (step / total)^3``, 0 at the start, about 0.77 at the end.

    Raises:
        ValueError: if ``step`` or ``total`` is not a positive int, or ``step > total``.
    """
    if step > total:
        raise ValueError(f"step {step} is past the last step {total}")
    return PEAK_DECAY * (step / total) ** 3


class Lookahead:
    """The slow copy of a model's floating-point state (parameters and batch-norm statistics)."""

    def __init__(self, model: nn.Module):
        self.slow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        """``slow = decay * slow + (1 - decay) * model``, then copy ``slow`` into ``model``.

        Raises:
            ValueError: if ``decay`` is not in [0, 1].
        """
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay!r}")
        state = model.state_dict()
        slow = list(self.slow.values())
        fast = [state[name] for name in self.slow]
        # two multi-tensor operations: on a GPU, two launches instead of two per tensor
        torch._foreach_lerp_(slow, fast, 1.0 - decay)
        torch._foreach_copy_(fast, slow)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The slow copy, for a checkpoint."""
        return dict(self.slow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the slow copy from :meth:`state_dict`, on the device of the current copy."""
        for name, slow in self.slow.items():
            slow.copy_(state[name])
