"""benchmarks/scale.py: its synthetic collection, its table and its targets, on made-up results
(the benchmark itself takes minutes even at its smallest)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from image_factory import write_image
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import scale
import scale_table

GiB = 1 << 30


def result(label: str, size: int, step: str, ms: float, rss_gib: float, rc: int = 0) -> dict:
    return {"label": label, "size": size, "step": step, "image_size": 128, "rc": rc,
            "seconds": ms * size / 1e3, "seconds_per_image": ms / 1e3,
            "peak_rss_bytes": int(rss_gib * GiB), "log": f"{label}-{step}.log"}  # fmt: skip


def all_steps(size: int, ms: float, rss: float) -> list[dict]:
    return [result(f"n{size}", size, step, ms, rss) for step in scale_table.STEPS]


def test_flat_costs_pass_and_the_table_shows_the_ratios(tmp_path: Path) -> None:
    rows = all_steps(5000, 2.0, 3.0) + all_steps(20000, 2.2, 3.2) + all_steps(100000, 2.5, 3.9)
    rows.append(result("huge", 440000, "train", 1.0, 5.0))
    for r in rows:
        (tmp_path / f"{r['label']}-{r['step']}.json").write_text(json.dumps(r))
    loaded = scale_table.load_results(tmp_path)
    verdicts = scale_table.check_targets(loaded)
    assert all(v.startswith("PASS") for v in verdicts), verdicts
    assert len(verdicts) == len(scale_table.STEPS) + 2  # every step, training's RSS, huge
    table = scale_table.markdown_table(loaded)
    train = next(line for line in table.splitlines() if line.startswith("| train |"))
    assert train.split(" | ")[1:4] == ["2.000", "2.200", "2.500"]  # ms/image per size
    assert train.rstrip(" |").split(" | ")[-2:] == ["1.25", "+0.90"]  # time ratio, RSS spread
    assert "| train | 440,000 | 128 | 440 | 5.00 | 0 |" in table


def test_slower_per_image_more_memory_or_a_killed_huge_run_fail() -> None:
    rows = all_steps(5000, 2.0, 3.0) + all_steps(100000, 2.0, 3.0)
    rows[len(scale_table.STEPS) + 1] = result("n100000", 100000, "cache", 2.7, 3.0)  # 1.35 x
    rows[len(scale_table.STEPS) + 2] = result("n100000", 100000, "train", 2.0, 4.2)  # +1.2 GiB
    rows.append(result("huge", 440000, "train", 1.0, 20.0, rc=-9))
    verdicts = scale_table.check_targets(rows)
    failed = sorted(v.split(":")[0] for v in verdicts if v.startswith("FAIL"))
    assert failed == ["FAIL cache", "FAIL huge", "FAIL huge train", "FAIL train RSS"]
    assert any("1.35 x" in v for v in verdicts)


def test_missing_sizes_or_steps_are_said() -> None:
    assert scale_table.check_targets(all_steps(5000, 1, 1)) == [
        "MISSING: at least two sizes are needed to compare"
    ]
    rows = [*all_steps(5000, 1, 1), result("n9000", 9000, "inspect", 1, 1)]
    verdicts = scale_table.check_targets(rows)
    assert "MISSING split: not measured at 5,000 and 9,000" in verdicts
    assert verdicts[0].startswith("PASS inspect")


def test_the_collection_resamples_files_and_lists_patients(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for i in range(3):
        write_image(source / "NORMAL" / f"n{i}.png", 60, 50, seed=i)
    write_image(source / "PNEUMONIA" / "p0.png", 60, 50, seed=9)
    args = scale.parse_args(["--work", str(tmp_path / "w"), "--source", str(source),
                             "--source-size", "24"])  # fmt: skip
    pool = scale.make_pool(args, 9)
    folder, csv = scale.make_set(args, pool, 6)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert len(files) == 6 and files[0] == "NORMAL/img000000.jpg"
    lines = csv.read_text().splitlines()
    assert lines[0] == "path,label,patient" and len(lines) == 7
    assert lines[4] == "PNEUMONIA/img000003.jpg,PNEUMONIA,patient000001"  # 4 sources, 3 a patient
    same_source = [np.asarray(Image.open(folder / f"NORMAL/img00000{i}.jpg")) for i in (0, 4)]
    assert same_source[0].shape == (24, 24) and not np.array_equal(*same_source)
    assert (folder / files[0]).stat().st_ino == (pool / files[0]).stat().st_ino  # a hard link
    scale.make_pool(args, 9)  # resumed: nothing left to generate, nothing rewritten
    assert (pool / files[0]).stat().st_nlink == 2


def test_huge_refuses_in_one_line_without_the_disk(tmp_path: Path) -> None:
    args = scale.parse_args(["--work", str(tmp_path), "--huge-size", "256"])
    with pytest.raises(SystemExit, match=r"^--huge needs \d+ GiB free under .* are$"):
        scale.check_disk(args, 10**9)
    assert scale.huge_count(args) * 256**2 > 1.1 * 0.99 * _ram()  # fills more than the memory


def _ram() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
