"""python -m shared.synth: profiles, explicit sizes, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.synth import SCENARIOS
from shared.synth.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def test_demo_profile_writes_one_file_per_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "demo", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    statements = [n for n in names if n[:2].isdigit()]
    assert [n.split("_")[1] for n in statements] == ["mt940", "camt053", "ofx"]
    assert {"customers.csv", "open_items.csv", "truth.jsonl"} <= set(names)
    truth = (tmp_path / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(truth) == 120
    assert len({json.loads(t)["scenario"] for t in truth}) == len(SCENARIOS)  # all, even at 120
    assert "120 receipts" in capsys.readouterr().out


def test_explicit_sizes_and_formats(tmp_path: Path) -> None:
    args = [
        "--seed",
        "3",
        "--customers",
        "30",
        "--open-items",
        "90",
        "--receipts",
        "40",
        "--formats",
        "mt940,camt053",
        "--files",
        "4",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    assert main(args) == 0
    statements = sorted(p.name for p in tmp_path.iterdir() if p.name[:2].isdigit())
    assert len(statements) == 4 and {n.split("_")[1] for n in statements} == {"mt940", "camt053"}
    assert len((tmp_path / "open_items.csv").read_text(encoding="utf-8").splitlines()) == 91


def test_bad_arguments_exit_with_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--files", "2", "--out", str(tmp_path), "--quiet"]) == 2
    assert "at least 3 files" in capsys.readouterr().err
    assert main(["--formats", "pdf", "--out", str(tmp_path), "--quiet"]) == 2


def test_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.synth",
            "--receipts",
            "20",
            "--customers",
            "10",
            "--open-items",
            "40",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "truth.jsonl").is_file()


def test_files_are_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    """String hashing differs per process; nothing the generator writes may depend on it."""
    outs = []
    for hash_seed in ("1", "4242"):
        out = tmp_path / hash_seed
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "shared.synth",
                "--receipts",
                "60",
                "--customers",
                "25",
                "--open-items",
                "90",
                "--out",
                str(out),
                "--quiet",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert done.returncode == 0, done.stderr
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir())
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
