"""Turn the JSON of one `ptcalc probe --format json` run into the committed validation record.

    flock /tmp/ptcalc-kernel.lock ptcalc probe --format json \
        | python validation/record.py > validation/probe-record.json

Everything the probe reported is kept (kernel, settings it read, every case with the model's
and the measured numbers, the checks, the restoration verdict) except the host's mount table,
which is replaced by whether it was the same before and after.  Added: when and where the run
was made.  tests/validation/test_probe_record.py re-checks the current model against it.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def record(report: dict) -> dict:
    before, after = report.pop("state_before"), report.pop("state_after")
    report["nr_hugepages_before"] = before["nr_hugepages"]
    report["nr_hugepages_after"] = after["nr_hugepages"]
    report["mount_table_unchanged"] = before["mounts"] == after["mounts"]
    report["recorded"] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "ptcalc probe --format json",
        "ptcalc_commit": _commit(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }
    return report


if __name__ == "__main__":
    json.dump(record(json.load(sys.stdin)), sys.stdout, indent=1)
    sys.stdout.write("\n")
