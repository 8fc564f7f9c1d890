"""The sizing report as a person sees it: rendered by headless Chromium (Debian's `chromium`
package; .ci/run installs it), nothing wider than the window, every image loaded, the
recommendation on the page.  A script appended to a copy of the report measures the page and
writes the verdict into the DOM, which `--dump-dom` prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import pytest

pytest.importorskip("matplotlib")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PROBE = """<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(e => {
    if (e.closest(".wide")) return false;            // tables scroll inside their box
    return e.getBoundingClientRect().right > width + 1;
  }).map(e => e.tagName + "." + e.className);
  const scrolling = [...document.querySelectorAll(".wide")].filter(
    e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 40));
  const images = [...document.images];
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);
  const rec = document.getElementById("recommendation");
  const out = document.createElement("pre");
  out.id = "verdict";
  out.textContent = "VERDICT" + JSON.stringify({
    scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5), scrolling,
    images: images.length, broken, recommendation: rec ? rec.textContent : null}) + "END";
  document.body.appendChild(out);
});
</script>"""


def _chromium(args, timeout=120):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout,
                              check=False)


# report -> the images it shows at least: the SGA preset's 4 plots and 9 formula images; the
# host layout's page-table plot
REPORTS = {"oracle-sga-300g": 4 + 9, "layout:docs/examples/postgres-host.toml": 1}


@pytest.fixture(scope="module", params=sorted(REPORTS))
def report_html(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    if request.param.startswith("layout:"):
        from pathlib import Path

        from ptcalc.inputs.layout import load_layout_file
        from ptcalc.model.strategies import STRATEGY_NAMES
        from ptcalc.present.layout_report import build_layout_report, write_layout_report

        example = Path(__file__).resolve().parents[2] / request.param.split(":", 1)[1]
        write_layout_report(build_layout_report(load_layout_file(example), STRATEGY_NAMES),
                            path)
    else:
        from ptcalc.present.sizing.build import build_report, write_report

        write_report(build_report(request.param), path)
    return path, REPORTS[request.param]


@pytest.mark.parametrize("width", [1280, 760])
def test_report_fits_the_window_and_every_image_loads(report_html, width, tmp_path):
    report_html, least_images = report_html
    probed = tmp_path / "probed.html"
    probed.write_text(report_html.read_text().replace("</body>", PROBE + "</body>"))
    result = _chromium([f"--window-size={width},2000", "--virtual-time-budget=10000",
                        "--dump-dom", probed.as_uri()])
    match = re.search(r"VERDICT(.*?)END", result.stdout)
    assert match, f"no verdict from chromium: {result.stderr[-2000:]}"
    verdict = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert verdict["scrollWidth"] <= verdict["width"], verdict
    assert not verdict["wide"], verdict
    if width >= 1280:         # on a desktop window no table needs a horizontal scroll bar
        assert not verdict["scrolling"], verdict
    assert verdict["images"] >= least_images and not verdict["broken"], verdict
    assert "cheapest choice in mainline Linux" in verdict["recommendation"]
    assert "not merged" in verdict["recommendation"]
    screenshot = tmp_path / f"report-{width}.png"
    shot = _chromium([f"--window-size={width},3000", f"--screenshot={screenshot}",
                      report_html.as_uri()])
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
