"""ptcalc's performance figures, each next to its goal and the previous release's figure.

    python benchmarks/run.py [--quick] [--only AREA[,AREA]] [--record] [--check]

Every figure is measured side by side with its baseline in one run (see harness.py) and
printed as min/median/max of the rounds, next to its goal and the previous release's figure.
Each release's figures are kept in benchmarks/releases/<version>.json, written by `--record`
when the release is made (quick and full mode are stored apart).  "prev" is the newest
release older than the version being measured.

--check (what CI runs, with --quick) exits 1 when a figure regressed against the newest
recorded release not newer than this version (the release itself once it is recorded, so a
later change cannot slide back): its median is above that release's *highest* sample by more
than REGRESSION_MARGIN.  The recorded maximum already absorbs the run-to-run spread seen at
release time; the margin on top covers the difference between two machines of the same kind
(the figures are ratios to a floor measured on the machine itself, so they move much less
than absolute times).  Without --quick, --check also fails when a median misses its goal.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELEASES = HERE / "releases"
# Quick figures of one commit, run 5 times on this kind of VM, spread by up to ~20 % of the
# median (start-up ratios least, memory-bound throughput most); 35 % above the previous
# maximum is outside that spread and still catches a real slowdown of 1.5x.
REGRESSION_MARGIN = 0.35

sys.path.insert(0, str(HERE))
from harness import Figure  # noqa: E402


def areas() -> dict[str, Path]:
    return {path.stem: path for path in sorted((HERE / "figures").glob("*.py"))
            if not path.stem.startswith("_")}


def load(area: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"figures_{area}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(chosen: list[str], quick: bool) -> tuple[list[Figure], list[str]]:
    figures, failures = [], []
    for area in chosen:
        started = time.perf_counter()
        try:
            figures.extend(load(area, areas()[area]).figures(quick))
        except Exception as error:  # a figure that cannot run is reported, not fatal
            failures.append(f"{area}: {type(error).__name__}: {error}")
            if os.environ.get("PTCALC_BENCH_DEBUG"):
                traceback.print_exc()
        print(f"  [{area}: {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    return figures, failures


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def recorded(mode: str, version: str, *, older: bool) -> tuple[str, dict]:
    """(release, figures) of the newest recorded release older than `version` (older=True)
    or not newer than it; ("none", {}) when there is none."""
    current = _version(version)
    found = [(_version(p.stem), p) for p in RELEASES.glob("*.json")]
    found = [(v, p) for v, p in found if (v < current if older else v <= current)]
    for _, path in sorted(found, reverse=True):
        figures = json.loads(path.read_text()).get(mode)
        if figures:
            return path.stem, figures
    return "none", {}


def this_version() -> str:
    """The version of the ptcalc being measured (the one `import ptcalc` finds)."""
    import ptcalc

    return ptcalc.__version__


def number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def verdicts(figure: Figure, guard: dict | None, guard_name: str,
             quick: bool) -> tuple[str, bool]:
    """(text, failed) for one figure against its goal and the release that guards it."""
    notes, failed = [], False
    if figure.met:
        notes.append("goal met")
    else:
        notes.append("MISSES GOAL")
        failed = not quick
    if guard:
        limit = guard["high"] * (1 + REGRESSION_MARGIN)
        if figure.median > limit:
            notes.append(f"REGRESSED vs {guard_name} (> {number(limit, figure.unit)})")
            failed = True
    return ", ".join(notes), failed


def report(figures: list[Figure], quick: bool) -> bool:
    mode, version = ("quick" if quick else "full"), this_version()
    release, before = recorded(mode, version, older=True)
    guard_name, guards = recorded(mode, version, older=False)
    print(f"ptcalc {version}; prev: release {release}; regressions checked against "
          f"{guard_name} (+{REGRESSION_MARGIN:.0%} over its highest sample)")
    print(f"{'figure':<52} {'min':>9} {'median':>9} {'max':>9} {'goal':>9} "
          f"{'prev':>11}  verdict")
    any_failed = False
    for figure in figures:
        old = before.get(figure.key)
        text, failed = verdicts(figure, guards.get(figure.key), guard_name, quick)
        any_failed |= failed
        prev = number(old["median"], figure.unit) if old else "—"
        print(f"{figure.title[:52]:<52} {number(figure.low, figure.unit):>9} "
              f"{number(figure.median, figure.unit):>9} {number(figure.high, figure.unit):>9} "
              f"{number(figure.goal, figure.unit):>9} {prev:>11}  {text}")
        if figure.detail:
            print(f"    {figure.detail}")
    return any_failed


def save(figures: list[Figure], quick: bool, release: str) -> Path:
    """Add the figures to the release's record (figures measured again replace theirs)."""
    RELEASES.mkdir(exist_ok=True)
    path = RELEASES / f"{release}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["release"] = release
    data.setdefault("machine", {})["quick" if quick else "full"] = _machine()
    data.setdefault("quick" if quick else "full", {}).update({
        f.key: {"title": f.title, "median": f.median, "low": f.low, "high": f.high,
                "goal": f.goal, "unit": f.unit, "samples": f.samples} for f in figures})
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def _machine() -> str:
    return (f"python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"{os.cpu_count()} CPUs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, few rounds (CI)")
    parser.add_argument("--only", default="", help=f"areas, of: {', '.join(areas())}")
    parser.add_argument("--record", action="store_true",
                        help="store the figures as this version's release figures "
                             "(benchmarks/releases/<version>.json)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 on a regression (and, without --quick, a missed goal)")
    args = parser.parse_args(argv)
    known = areas()
    chosen = [a for a in args.only.split(",") if a] or list(known)
    unknown = [a for a in chosen if a not in known]
    if unknown:
        parser.error(f"unknown area {', '.join(unknown)}; known: {', '.join(known)}")
    print(f"{_machine()}, load average {os.getloadavg()[0]:.2f}, "
          f"{'quick' if args.quick else 'full'} mode")
    figures, failures = measure(chosen, args.quick)
    failed = report(figures, args.quick)
    for failure in failures:
        print(f"could not measure {failure}")
    if args.record:       # what could not be measured (an older release) is left out
        print(f"recorded in {save(figures, args.quick, this_version())}")
    return 1 if args.check and (failed or failures) else 0


if __name__ == "__main__":
    sys.exit(main())
