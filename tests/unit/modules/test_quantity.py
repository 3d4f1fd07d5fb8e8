"""The one Kubernetes quantity parser shared by the planner (requests) and GPU detection (allocatable)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.datamill.platform.plugins.module_utils import catalog, gpu, quantity


def test_gpu_and_catalog_share_the_parser():
    assert gpu.parse_quantity is quantity.parse_quantity


@pytest.mark.parametrize(
    ("raw", "scale", "expected"),
    [("500m", 1000, 500), ("1.5", 1000, 1500), ("2", 1000, 2000), ("1Gi", 1, 2**30), ("1e3", 1, 1000), (None, 1, 0)],
)
def test_request_quantity(raw, scale, expected):
    assert quantity.request_quantity(raw, scale, "hint") == expected


def test_request_quantity_rounds_half_up_to_whole_units():
    assert quantity.request_quantity("0.0005", 1000, "hint") == 1
    assert quantity.parse_quantity("1500m") == Decimal("1.5")


@pytest.mark.parametrize("raw", ["-1", "-500m", "1 Gi", "lots", True])
def test_request_quantity_rejects_with_the_hint(raw):
    with pytest.raises(ValueError, match=r"use e\.g\. 512Mi or 2Gi for memory"):
        catalog.parse_memory(raw)
