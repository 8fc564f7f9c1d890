"""The sizing report: content, standalone HTML with embedded PNGs, Markdown with PNGs beside it
or embedded, atomic writes, and the `ptcalc report` command's contract (exit 2, one line)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ptcalc.cli.main import main
from ptcalc.errors import InputError

pytest.importorskip("matplotlib")

from ptcalc.present import files
from ptcalc.present.sizing import build as sr

PNG = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'data:image/png;base64,([A-Za-z0-9+/=]+)')


@pytest.fixture(scope="module")
def sga_report():
    return sr.build_report("oracle-sga-300g", command="ptcalc report --preset oracle-sga-300g")


def _embedded_pngs(text: str) -> list[bytes]:
    return [base64.b64decode(match) for match in DATA_URI.findall(text)]


def test_findings_and_tables(sga_report):
    findings = " ".join(sga_report.findings)
    assert "880.629" not in findings            # findings use 3 significant digits
    assert "881 GiB" in findings and "362 processes" in findings
    assert "hugetlb-1g" in findings and "hugetlb-2m-pmdshare" in findings
    frame = sga_report.results.set_index("strategy")
    assert frame.loc["private-4k", "max_procs"] == 361
    assert [figure.name for figure in sga_report.figures] == ["page-tables", "savings",
                                                              "faults", "tlb"]
    assert all(figure.png.startswith(PNG) for figure in sga_report.figures)
    pages = " ".join(sga_report.huge_pages)
    assert "vm.nr_hugepages=153600" in pages            # 300 GiB / 2 MiB
    assert "hugepagesz=1G hugepages=300" in pages       # 300 GiB / 1 GiB
    sources = {name: source for name, _, _, source in sga_report.strategies}
    assert ("https://lore.kernel.org/all/cover.1642526745.git.khalid.aziz@oracle.com/"
            in sources["private-4k"])


def test_html_is_standalone(sga_report):
    text = sr.render_html(sga_report)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    images = _embedded_pngs(text)
    assert len(images) == 4 and all(image.startswith(PNG) for image in images)
    # no external resources: every src is a data URI; links are plain <a href>
    assert not re.findall(r'src="(?!data:)', text)
    assert "<script" not in text and "<link" not in text
    assert ('<a href="https://lore.kernel.org/all/cover.1642526745.git.khalid.aziz@oracle.com/">'
            in text)
    assert "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html" in text
    for name in ("private-4k", "hugetlb-2m-pmdshare", "mshare", "threads"):
        assert f"<td>{name}</td>" in text
    assert "880.629 GiB" in text and "no limit" in text


def test_markdown_links_pngs_beside_it(sga_report, tmp_path):
    written = sr.write_report(sga_report, tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    folder = tmp_path / "r_files"
    assert written[0] == tmp_path / "r.md" and set(written[1:]) == set(folder.glob("*.png"))
    # the hidden manifest says which files ptcalc wrote (the only ones it will remove)
    manifest = (folder / ".ptcalc-files").read_text().split()
    assert sorted(manifest) == sorted(p.name for p in written[1:])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*manifest, ".ptcalc-files"])
    for figure in sga_report.figures:
        assert f"(r_files/{figure.name}.png)" in text
        assert (folder / f"{figure.name}.png").read_bytes() == figure.png
    assert "data:image" not in text
    assert "| private-4k |" in text
    assert "[lore:cover.1642526745.git.khalid.aziz@oracle.com](https://lore.kernel.org/all/" in text
    # writing again replaces the folder (no leftovers beside it); a file ptcalc did not
    # write there is never removed: the write is refused and both stay as they were
    sr.write_report(sga_report, tmp_path / "r.md")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md", "r_files"]
    (folder / "mine.png").write_bytes(b"x")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(InputError, match=r"r_files' holds files ptcalc did not write \(mine"):
        sr.write_report(sga_report, tmp_path / "r.md")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md", "r_files"]


def test_markdown_embedded(sga_report, tmp_path):
    written = sr.write_report(sga_report, tmp_path / "r.markdown", embed_images=True)
    assert written == [tmp_path / "r.markdown"]
    assert len(_embedded_pngs(written[0].read_text())) == 4
    assert not (tmp_path / "r_files").exists()


def test_atomic_write_keeps_old_file_on_failure(sga_report, tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old report")

    def broken_replace(src, dst, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left on device") as raised:
        sr.write_report(sga_report, target)
    assert raised.value.filename == str(target)      # the CLI: one line naming it, exit 1
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]       # no temporary left


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        files.atomic_write(tmp_path / "f.html", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.html").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("name, message", [
    ("r.pdf", "must end in .html or .md"),
    ("missing/r.html", "does not exist"),
    (".", "must end in .html or .md"),
])
def test_bad_output_paths(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        sr.check_report_path(tmp_path / name)


def test_directory_named_like_a_report(tmp_path):
    (tmp_path / "r.html").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        sr.check_report_path(tmp_path / "r.html")


def test_overrides_and_missing_ram():
    report = sr.build_report(size="24GiB", procs=2, ram="32GiB", access="read", cpu="zen4")
    # the title names the scenario: sizes in binary units, counts with separators
    assert report.title == "24 GiB shared region, 2 processes, 32 GiB host"
    assert "24 GiB shared region mapped by 2 processes on a 32 GiB host" in report.scenario_text
    assert "AMD" in report.scenario_text
    with pytest.raises(InputError, match="--ram is missing"):
        sr.build_report(size="24GiB", procs=2)


# --------------------------------------------------------------------------------------------
# The command


def test_cli_writes_html(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "--preset", "oracle-sga-300g", "--output", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out} (") and "4 plots" in line
    text = out.read_text()
    assert len(_embedded_pngs(text)) == 4
    assert "<h1>300 GiB SGA, 1,500 processes, 512 GiB host</h1>" in text
    assert re.search(r"Generated 20\d\d-\d\d-\d\d \d\d:\d\d UTC with ptcalc \d", text)
    # 300 GiB at offset 0 is 1 GiB-aligned: 300 pages of 1 GiB, one PUD table per process
    assert "cheapest choice in mainline Linux for this SGA is hugetlb-1g" in text
    assert "hugepagesz=1G hugepages=300" in text and "mshare (RFC posted" in text
    # formulas are images (mathtext SVG) with their text form as alt text, never raw LaTeX
    visible = re.sub(r'<img [^>]*>', "", text)
    assert "Piecewise" not in text and "\\lceil" not in visible and "\\frac" not in visible
    assert 'alt="PTE tables = ⌈(o + t) / 2 MiB⌉ − ⌊o / 2 MiB⌋   (0 unless t &gt; 0)"' in text  # noqa: RUF001


def test_cli_writes_markdown(tmp_path, capsys):
    out = tmp_path / "pg.md"
    assert main(["report", "--preset", "postgres-100g", "-o", str(out), "--procs", "400"]) == 0
    assert "4 PNG files" in capsys.readouterr().out
    assert "400 processes" in out.read_text()
    assert len(list((tmp_path / "pg_files").glob("*.png"))) == 4


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope", "-o", "{dir}/r.html"], "preset 'nope' is not known"),
    (["--preset", "oracle-sga-300g", "-o", "{dir}/r.txt"], "must end in .html or .md"),
    (["--preset", "oracle-sga-300g", "-o", "{dir}/no/r.html"], "does not exist"),
    (["--preset", "oracle-sga-300g"], "Missing option '--output'"),
    (["--size", "10GiB", "--procs", "3", "-o", "{dir}/r.html"], "--ram is missing"),
    (["--preset", "redis-fork-24g", "--touched", "2", "-o", "{dir}/r.html"], "touched"),
    (["--preset", "redis-fork-24g", "--ram", "lots", "-o", "{dir}/r.html"], "ram 'lots'"),
    (["--preset", "redis-fork-24g", "--cpu", "pentium", "-o", "{dir}/r.html"], "pentium"),
])
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, args, message):
    argv = ["report"] + [arg.format(dir=tmp_path) for arg in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptcalc: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not list(tmp_path.glob("*.html"))


def test_cli_module_imports_only_typer_and_stdlib():
    code = ("import sys; import ptcalc.cli.main as c; c._register_commands(); "
            "heavy = [m for m in ('pandas', 'numpy', 'sympy', 'matplotlib') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "ptcalc.cli.report" in __import__("ptcalc.cli.main").cli.main.COMMAND_MODULES


def test_report_help_lists_formats():
    result = subprocess.run([sys.executable, "-m", "ptcalc", "report", "--help"],
                            capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parent)
    assert "--output" in result.stdout and "data URIs" in result.stdout


@pytest.mark.parametrize("command", [
    "ptcalc report --preset `x` -o r.md",
    "ptcalc report --preset 'a`<img src=x onerror=alert(1)>`' -o r.md",
    "ptcalc report --preset '``` <img src=x onerror=alert(1)>' -o r.md",
    "ptcalc report --preset '`' -o r.md",
    "ptcalc report --preset 'x\n\n<img src=x onerror=alert(1)>' -o r.md",
])
def test_markdown_footer_keeps_any_command_in_one_code_span(sga_report, command):
    import dataclasses

    from ptcalc.present.sizing.markdown import render_markdown

    MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt      # a CommonMark renderer

    text = render_markdown(dataclasses.replace(sga_report, command=command))
    footer = [line for line in text.splitlines() if line.startswith("Generated by ")]
    assert len(footer) == 1                          # a line break did not end the paragraph
    html = MarkdownIt("commonmark").render(footer[0])
    assert "<img" not in html                        # CommonMark viewers render no tag
    shown = html.split("<code>", 1)[1].split("</code>", 1)[0]
    # the code span holds the whole command (HTML-escaped by the renderer)
    assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
        .replace("&amp;", "&") == command.replace("\n", "\\n")


def test_what_changes_cost_section(sga_report, tmp_path):
    # the SGA's 300 GiB at 1500 processes: mprotect of the first GiB unshares one slot of
    # hugetlb-2m-pmdshare: one PMD table allocated, 1 unshared, VmPTE -4 KiB right after and
    # back to +0 once its 512 huge pages (1 GiB / 2 MiB) have refaulted; no IPIs
    text = sr.write_report(sga_report, tmp_path / "r.md", embed_images=True)[0].read_text()
    section = text.split("## What changes cost", 1)[1].split("\n## ", 1)[0]
    mprotect = section.split("### mprotect() of the first 1 GiB", 1)[1].split("###", 1)[0]
    rows = {cells[0]: cells[1:] for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in mprotect.splitlines()
        if line.startswith("| "))}
    assert rows["hugetlb-2m-pmdshare"] == ["1", "0", "1", "\u22124 KiB", "0", "512", "0"]
    # private-4k: nothing changes in the tables of a protection change of written pages
    assert rows["private-4k"][:3] == ["0", "0", "0"]
    assert "strategy" in rows and "VmPTE change, right after" in rows["strategy"]


def test_findings_mark_proposals(sga_report):
    # thp-shmem-1g (RFC, not merged) is among the three smallest for the SGA: 5.86 MiB
    smallest = next(f for f in sga_report.findings if "Smallest page tables" in f)
    assert "thp-shmem-1g (5.86 MiB; a proposal: RFC posted 2026-02, not merged)" in smallest
    assert "hugetlb-1g (5.86 MiB)" in smallest


HOSTILE = "<img src=x onerror=alert(1)> & <b>bold</b>"


def test_markdown_shows_what_a_preset_file_says_as_text(tmp_path):
    # a preset file of the user's: its description and sources are printed, never rendered
    MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt
    preset = tmp_path / "mine.toml"
    preset.write_text(f'description = "{HOSTILE}"\n[scenario]\nsize = "1GiB"\nprocs = 2\n'
                      f'ram = "4GiB"\n[sources]\nsize = "{HOSTILE}"\nprocs = "two"\n'
                      'ram = "four"\n')
    report = sr.build_report(str(preset))
    text = sr.write_report(report, tmp_path / "r.md", embed_images=True)[0].read_text()
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "onerror=alert(1)>" not in html and "<b>" not in html     # no tag rendered
    assert html.count("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;") >= 2
    # code spans keep their text: the command of the footer, the notes' `ptcalc op`
    assert "<code>ptcalc op OPERATION" in html


def test_layout_markdown_shows_names_as_text(tmp_path):
    MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt
    from ptcalc.inputs.layout import parse_layout
    from ptcalc.present.layout_report import build_layout_report, render_markdown

    layout = parse_layout({"name": "x", "description": HOSTILE,
                           "regions": [{"name": "r", "size": "4MiB"}],
                           "groups": [{"name": "g", "maps": [{"region": "r"}]}],
                           "sources": {"size": HOSTILE}})
    html = MarkdownIt("commonmark").enable("table").render(
        render_markdown(build_layout_report(layout, ("private-4k",))))
    assert "onerror=alert(1)>" not in html and "<b>" not in html and "&lt;img" in html


def test_random_pattern_scenario_is_reported_without_the_operations():
    # operations are modelled for the dense pattern only: the report of a random-pattern
    # scenario leaves that section out (it raised "modelled for the dense touch pattern
    # only" and refused the whole report)
    report = sr.build_report(size="1GiB", procs="2", ram="4GiB", pattern="random",
                             touched="0.5")
    assert report.sections == [] and report.recommendation
    assert "(random, write access)" in report.scenario_text
