"""The variant grammar shared by the write side and the read side.

A case whose variant reads ``<implementation>-L=<length>`` (``naive-L=128``,
``sdpa-L=4096``) is one point of a sequence-length sweep: the attention workload writes
such variants, and the results layer groups them into scaling curves.
"""

from __future__ import annotations

import re

_LENGTH_VARIANT = re.compile(r"^(?P<implementation>[A-Za-z0-9_.]+)-L=(?P<length>[0-9]{1,9})$")


def length_variant(implementation: str, length: int) -> str:
    """The variant string of one point: ``length_variant("sdpa", 4096) == "sdpa-L=4096"``."""
    variant = f"{implementation}-L={length}"
    if parse_length_variant(variant) != (implementation, length):
        raise ValueError(f"{implementation!r} cannot name an implementation in a variant")
    return variant


def parse_length_variant(variant: str) -> tuple[str, int] | None:
    """``"naive-L=128"`` -> ``("naive", 128)``; None for a variant that names no length."""
    match = _LENGTH_VARIANT.match(variant)
    if match is None:
        return None
    return match["implementation"], int(match["length"])
