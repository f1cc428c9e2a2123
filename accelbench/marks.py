"""Marks on a saved benchmark that say its figure deserves less trust.

- ``noisy``: the interquartile range is over ``NOISY_IQR_SHARE`` of the median, as
  torch.utils.benchmark flags a measurement;
- the conditions the case ran under (``accelbench.conditions``): ``busy``, ``on battery``,
  ``low power``, ``throttled``.

The terminal summary, the scaling fit, ``compare`` and ``report`` all read marks from here,
so a case is flagged the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from accelbench.conditions import flags_of

NOISY = "noisy"
NOISY_IQR_SHARE = 0.10  # IQR above 10% of the median


def iqr_share(stats: Any) -> float | None:
    if not isinstance(stats, dict):
        return None
    iqr, median = stats.get("iqr"), stats.get("median")
    if not isinstance(iqr, (int, float)) or not isinstance(median, (int, float)) or median <= 0:
        return None
    return iqr / median


def is_noisy(stats: Any) -> bool:
    share = iqr_share(stats)
    return share is not None and share > NOISY_IQR_SHARE


def marks(record: dict[str, Any]) -> list[str]:
    """``noisy`` first, then the condition flags, for one saved benchmark."""
    found = [NOISY] if is_noisy(record.get("stats")) else []
    return found + flags_of(record.get("extra_info"))
