"""Small statistics shared by the go-live gate, the dashboard and ``deskguard eval``."""

from __future__ import annotations

import math

Z_95 = 1.959964  # two-sided 95 % normal quantile


def wilson_lower_bound(agreed: int, tickets: int, z: float = Z_95) -> float | None:
    """Lower end of the Wilson score interval for ``agreed`` successes out of ``tickets``
    (Wilson, "Probable inference, the law of succession, and statistical inference", JASA 1927):
    unlike the raw ratio it is low when there are few tickets. None without tickets."""
    if tickets <= 0:
        return None
    p = agreed / tickets
    z2 = z * z
    centre = p + z2 / (2 * tickets)
    spread = z * math.sqrt(p * (1 - p) / tickets + z2 / (4 * tickets * tickets))
    return max(0.0, (centre - spread) / (1 + z2 / tickets))
