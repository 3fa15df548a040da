"""Turn the counts the reliability tests recorded into docs/reliability.md.

    VAEDGE_RELIABILITY_REPORT=reliability.json .venv/bin/python -m pytest -m "reliability or reliability_full"
    .venv/bin/python tests/reliability_report.py reliability.json docs/reliability.md
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
hash check, forged manifests re-sealed with their own sha256, a decoder holding a `Loop`, signatures
that do not verify, escapes and markup in file names, Ctrl-C during start-up, every Pillow image
mode, and `--force` pointed at folders vaedge did not make.

The default test run (`.venv/bin/python -m pytest`, what CI runs) includes the `reliability` tests
with smaller counts: 5 random SIGKILLs during training, 40 bit flips, 200 + 150 fuzz examples. The
full run adds `reliability_full`: 20 more SIGKILL trials, 1000 bit flips and 10 000 examples each
for the runtime API and the CLI.

How faults are injected: SIGKILL from a parent process at a random moment (seeded); a full disk is a
real 16–128 KiB tmpfs mount (ENOSPC) where the machine allows mounts, else a file-size limit (EFBIG);
no write permission is an immutable directory (`chattr +i`, which binds root too) or mode 0555;
tampering flips one random bit of a random bundle file; fuzzing is hypothesis over the public runtime
API and over the CLI through typer's CliRunner.
"""


def render(report: dict) -> str:
    faults = report["faults"]
    lines = [HEADER, f"Run on {date.today().isoformat()}, Python {platform.python_version()}, "
             f"pytest exit status {report['exit_status']} ({'all passed' if report['exit_status'] == 0 else 'FAILURES'}).\n",
             "| fault or input | outcome | count |", "| --- | --- | ---: |"]
    total = 0
    for fault, outcomes in faults.items():
        for outcome, count in sorted(outcomes.items()):
            lines.append(f"| {fault} | {outcome} | {count} |")
            total += count
    lines.append(f"| **total** | | **{total}** |")
    return "\n".join(lines) + "\n"


def merge(reports: list[dict]) -> dict:
    """Later reports replace earlier ones fault by fault (a rerun of some tests after a fix)."""
    merged = {"exit_status": max(r["exit_status"] for r in reports), "faults": {}}
    for report in reports:
        merged["faults"].update(report["faults"])
    merged["faults"] = dict(sorted(merged["faults"].items()))
    return merged


if __name__ == "__main__":
    *sources, target = map(Path, sys.argv[1:])
    report = merge([json.loads(s.read_text()) for s in sources])
    target.write_text(render(report))
    print(f"{target}: {sum(sum(o.values()) for o in report['faults'].values())} outcomes")
