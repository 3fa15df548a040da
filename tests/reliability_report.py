"""Turn the counts the reliability tests recorded into docs/reliability.md.

    VAEDGE_RELIABILITY_REPORT=reliability.json .venv/bin/python -m pytest -m "reliability or reliability_full"
    .venv/bin/python tests/reliability_report.py reliability.json docs/reliability.md

Several sources merge, later ones replacing earlier ones fault by fault; a source that is a page
this script wrote (docs/reliability.md) is read back from its table, so a rerun of some tests can
be merged with the last full run: `tests/reliability_report.py docs/reliability.md new.json docs/reliability.md`.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import date
from pathlib import Path

HEADER = """# Reliability

Every figure below was counted by the tests while they ran (`tests/conftest.py` records each fault
injected or bad input tried and its outcome); none is typed by hand. Regenerate it with:

```bash
VAEDGE_RELIABILITY_REPORT=reliability.json .venv/bin/python -m pytest -m "reliability or reliability_full"
.venv/bin/python tests/reliability_report.py reliability.json docs/reliability.md
```

Hostile input (files and arguments from strangers) is counted too: FIFOs and devices given as
files, decompression bombs read under a 1.5 GiB address-space limit, a model file swapped after its
hash check, forged manifests re-sealed with their own sha256, a decoder holding a `Loop`, graphs with
ONNX external data on every engine and in the browser site, EPS and other formats named .png,
symlinks and odd URLs asked of `vaedge web --serve` (a real server process), re-signing and
concurrent signing, escapes and bidi marks in every manifest string and TF_CONFIG address, tampered
run directories given to `--resume`, every numeric option at its extremes, escapes and markup in
file names, Ctrl-C during start-up, every Pillow image mode, and `--force` pointed at folders vaedge
did not make or at a folder holding the source.

The default test run (`.venv/bin/python -m pytest`, the README's test command) includes the
`reliability` tests with smaller counts: one SIGKILL of training right after its first checkpoint,
40 bit flips, 200 + 150 fuzz examples. The long trials are `reliability_full` (`bash tests/run.sh -m
reliability_full --dist load`; `.ci/run` runs them with VAEDGE_CI_FULL=1): 25 SIGKILLs of training at random
moments, one of two workers SIGKILLed mid-epoch, 1000 bit flips and 10 000 examples each for the
runtime API and the CLI.

How faults are injected: SIGKILL from a parent process at a random moment (seeded); a full disk is a
real 16–128 KiB tmpfs mount (ENOSPC) where the machine allows mounts, else a file-size limit (EFBIG);
no write permission is an immutable directory (`chattr +i`, which binds root too) or mode 0555;
tampering flips one random bit of a random bundle file; fuzzing is hypothesis over the public runtime
API and over the CLI through typer's CliRunner.
"""


def render(report: dict, merged: int = 1) -> str:
    faults = report["faults"]
    note = (
        (
            f" Counts merged from {merged} runs (the earlier page read back, later runs replacing it fault by "
            "fault); the exit status is the worst of them."
        )
        if merged > 1
        else ""
    )
    lines = [
        HEADER,
        f"Run on {date.today().isoformat()}, Python {platform.python_version()}, "
        f"pytest exit status {report['exit_status']} ({'all passed' if report['exit_status'] == 0 else 'FAILURES'})."
        f"{note}\n",
        "| fault or input | outcome | count |",
        "| --- | --- | ---: |",
    ]
    total = 0
    for fault, outcomes in faults.items():
        for outcome, count in sorted(outcomes.items()):
            lines.append(f"| {fault} | {outcome} | {count} |")
            total += count
    lines.append(f"| **total** | | **{total}** |")
    return "\n".join(lines) + "\n"


def read_page(text: str) -> dict:
    """The counts of a page `render` wrote, back as a report (its exit status from its status line)."""
    faults: dict = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].isdigit() and not cells[0].startswith("**"):
            faults.setdefault(cells[0], {})[cells[1]] = int(cells[2])
    return {"exit_status": 0 if "(all passed)" in text else 1, "faults": faults}


def merge(reports: list[dict]) -> dict:
    """Later reports replace earlier ones fault by fault (a rerun of some tests after a fix)."""
    merged = {"exit_status": max(r["exit_status"] for r in reports), "faults": {}}
    for report in reports:
        merged["faults"].update(report["faults"])
    merged["faults"] = dict(sorted(merged["faults"].items()))
    return merged


if __name__ == "__main__":
    *sources, target = map(Path, sys.argv[1:])
    report = merge([read_page(s.read_text()) if s.suffix == ".md" else json.loads(s.read_text()) for s in sources])
    target.write_text(render(report, len(sources)))
    print(f"{target}: {sum(sum(o.values()) for o in report['faults'].values())} outcomes")
