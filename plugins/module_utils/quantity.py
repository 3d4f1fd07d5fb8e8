# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities (``500m``, ``16Gi``, ``1.5G``, ``1e3``): one parser for the whole collection."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}
_QTY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value):
    """Kubernetes resource quantity -> Decimal. Raise ValueError when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QTY.match(text)
    if not match:
        raise ValueError(f"invalid quantity {value!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:
        raise ValueError(f"invalid quantity {value!r}") from exc
    return number * Decimal(_SUFFIX[match.group(2) or ""])


def request_quantity(value, scale, hint):
    """A resource request (never negative) scaled to an int: ``scale=1000`` gives millicores, ``1`` bytes.

    ``None`` and ``""`` mean no request (0). ``hint`` completes the error message, e.g. "use e.g. 500m or 2".
    """
    if value is None or value == "":
        return 0
    try:
        number = parse_quantity(value)
    except ValueError:
        raise ValueError(f"invalid quantity {value!r} ({hint})") from None
    if number < 0:
        raise ValueError(f"invalid quantity {value!r}: must not be negative ({hint})")
    return int((number * scale).to_integral_value(rounding="ROUND_HALF_UP"))
