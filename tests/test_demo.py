"""``make demo`` is the README's first command: it must keep working, and keep telling the truth."""

from __future__ import annotations

import sys

import anyio


async def test_demo_runs_end_to_end_and_checks_its_own_copies() -> None:
    proc = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "demo", "--images", "120"], check=False
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "every hit is a real robin and every review image a blurry one: yes" in out
    for name in ("gt-classification", "gt-detection", "coco", "yolo", "labelstudio"):
        assert f"export {name}: " in out
    assert "review band listed in s3://demo-training/_review/Robin.manifest" in out
