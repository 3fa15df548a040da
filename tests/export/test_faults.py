"""Export and training into a full disk or a directory they may not write: one line, nothing partial."""

from __future__ import annotations

import pytest

from tests.faults import DISK_FULL, NO_WRITE, full_disk, leftovers, unwritable_dir
from tests.vaedge_command import vaedge


@pytest.mark.reliability
def test_export_on_a_full_disk_leaves_no_bundle(trained_run, fashion_mnist_dir, reliability):
    with full_disk(128) as (root, fault):  # room for some graphs, not for all of them
        result = vaedge("export", trained_run, "--out", root / "b", "--data", fashion_mnist_dir, **fault)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] in DISK_FULL, result.stderr[-500:]
        assert leftovers(root) == []
    reliability("disk full: vaedge export", "one-line error, no bundle or staging directory left")


@pytest.mark.reliability
@pytest.mark.parametrize("command", ["export", "train"])
def test_unwritable_out_is_one_line_naming_it(trained_run, fashion_mnist_dir, command, reliability):
    with unwritable_dir() as root:
        out = root / "target"
        if command == "export":
            result = vaedge("export", trained_run, "--out", out, "--data", fashion_mnist_dir)
        else:
            result = vaedge("train", "--data", fashion_mnist_dir, "--epochs", 1, "--limit", 64, "--out", out)
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode == 1 and last.startswith("error: ") and str(out) in last
        assert any(reason in last for reason in NO_WRITE) and leftovers(root) == []
    reliability(f"permission denied: vaedge {command} --out", "one-line error naming the path, nothing written")
