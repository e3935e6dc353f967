"""The one atomic writer (kpitree.core.files) and the promises made with it.

A failed run changes nothing: a file is replaced only by a complete new one; a folder of outputs
(the review pack, the trend charts, the generated log) appears all at once or not at all. The
real failure used here is a file-size limit (``RLIMIT_FSIZE``, the kernel refusing a write like a
full disk would), set in a child process — no mocks. Also: names made from data stay inside
the folder, and trend charts are byte-identical on a rerun.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kpitree.core.errors import KpitreeError, WriteError
from kpitree.core.files import inside, output_folder, staged_folder, write_bytes, write_folder
from tests.conftest import ROOT, SAAS_DATA, SAAS_TREE, run_cli


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_write_bytes_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left


def test_write_bytes_into_a_missing_folder_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="missing"):
        write_bytes(tmp_path / "missing" / "a.txt", b"x")
    assert isinstance(WriteError("x"), KpitreeError)  # the CLI reports it in one line


def test_inside_refuses_names_that_leave_the_folder(tmp_path: Path) -> None:
    for name in ("../x", "/etc/passwd", "a/b", "..", ".", "", "a\\b"):
        with pytest.raises(WriteError, match="inside"):
            inside(tmp_path, name)
    assert inside(tmp_path, "ok.png") == tmp_path / "ok.png"


def test_output_folder_refuses_an_empty_name_and_a_file(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="--out ''"):
        output_folder("")
    (tmp_path / "f").write_text("x")
    with pytest.raises(WriteError, match="not a folder"):
        output_folder(tmp_path / "f")


def test_write_folder_keeps_other_files_and_leaves_no_staging(tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    write_folder(out, {"a.txt": b"1", "b.txt": b"2"})
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


def test_a_failure_inside_a_staged_folder_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "pack"
    write_folder(out, {"a.txt": b"old"})
    with pytest.raises(RuntimeError), staged_folder(out) as staging:
        (staging / "a.txt").write_bytes(b"new")
        raise RuntimeError("drawing failed half-way")
    assert (out / "a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


def _limited(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG (like a full disk)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_report_that_runs_out_of_space_leaves_the_previous_pack_untouched(
        tmp_path: Path) -> None:
    out = tmp_path / "pack"
    args = ["report", SAAS_TREE, SAAS_DATA, "--base", "2026-09", "--compare", "2026-10",
            "--out", out]
    assert run_cli(*args).returncode == 0
    before = digests(out)
    # Another explanation (sequential) whose report.html is larger than the limit.
    done = subprocess.run(
        [sys.executable, "-m", "kpitree", *map(str, args), "--method", "sequential"],
        cwd=ROOT, capture_output=True, text=True, preexec_fn=lambda: _limited(200_000),
        timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("kpitree: error: cannot write into ")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert digests(out) == before  # not one file of the old pack was touched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]  # no staging left behind


def test_trend_charts_are_byte_identical_on_a_rerun(tmp_path: Path) -> None:
    for run in ("one", "two"):
        for fmt in ("svg", "pdf"):
            done = run_cli("trend", SAAS_TREE, SAAS_DATA, "--by", "tier", "--out", tmp_path / run,
                           "--chart-format", fmt, "--from", "2026-08", "--to", "2026-10")
            assert done.returncode == 0, done.stderr
    assert len(digests(tmp_path / "one")) == 4
    assert digests(tmp_path / "one") == digests(tmp_path / "two")


def test_generate_force_replaces_the_log_and_keeps_other_files(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "gen"
    assert run_cli("generate", "--events", 1000, "--months", 2, "--out", out).returncode == 0
    (out / "notes.txt").write_text("mine")
    refused = run_cli("generate", "--events", 1000, "--months", 2, "--out", out, "--seed", 1)
    assert refused.returncode == 2 and "--force" in refused.stderr
    done = run_cli("generate", "--events", 1000, "--months", 2, "--out", out, "--seed", 1,
                   "--force")
    assert done.returncode == 0, done.stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "events").iterdir()) == [
        "events-2026-09.parquet", "events-2026-10.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen"]
