"""Issue 27 point 2: a product's resident peak in a local run, measured by Linux's own
high-water mark (reset per product), and worded against its run pod's memory limit."""

from __future__ import annotations

from floe.local.peak import MIB, memory_line, peak_bytes, reset_peak


def test_the_high_water_mark_is_reset_per_product() -> None:
    """What one product allocated does not count in the next one's peak."""
    assert reset_peak()
    before = peak_bytes()
    assert before is not None
    block = bytearray(200 * MIB)  # touched: resident, not just reserved
    grown = peak_bytes()
    del block
    assert grown is not None and grown - before >= 190 * MIB
    assert reset_peak()
    after = peak_bytes()
    assert after is not None and after < grown - 150 * MIB


def test_the_summary_line_compares_the_peak_with_the_run_pod_limit() -> None:
    assert memory_line(None, "2Gi") is None  # no figure where Linux gives none
    assert memory_line(300 * MIB, None) == "peak 300 MiB resident"
    assert memory_line(512 * MIB, "2Gi") == "peak 512 MiB resident, 25% of its run pod's 2Gi limit"
    above = memory_line(3 * 1024 * MIB, "2Gi")
    assert above is not None
    assert above.startswith("WARNING peak 3.0 GiB resident, above its run pod's 2Gi memory limit")
    assert "OOM-killed" in above and "limits.memory" in above and "max_resources" in above
