"""`ptcalc formula`: one metric as named steps in short symbols, with a legend.

The steps come from ptcalc.model.presentation (named quantities such as "PTE tables", inputs
as S, o, t, N, constants as sizes); this module lays them out as text (lines of at most
WIDTH characters, broken at + and − outside brackets) or as LaTeX, one equation per line.
"""

from __future__ import annotations

import textwrap

WIDTH = 100
_OPEN, _CLOSE = "(⌈⌊[{", ")⌉⌋]}"
_BREAKS = ("   (0 unless ", " + ", " − ", "; ")


def _break_points(line: str) -> list[tuple[int, int]]:
    """(position, bracket depth) of every place `line` may be broken (before the operator)."""
    points, depth, i = [], 0, 0
    while i < len(line):
        char = line[i]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        else:
            for token in _BREAKS:
                if line.startswith(token, i):
                    # "; " stays at the end of its line; the others start the next one
                    at = i + len(token) if token == "; " else i
                    points.append((at, depth if token != _BREAKS[0] else -1))
                    break
        i += 1
    return points


def wrap(line: str, width: int = WIDTH, indent: str = "      ") -> list[str]:
    """`line` broken into lines of at most `width` characters where it can be: first at the
    shallowest bracket depth, continuation lines indented."""
    if len(line) <= width:
        return [line]
    points = _break_points(line)
    lines = [line]
    for depth in sorted({d for _, d in points}):
        cuts = [p for p, d in points if d <= depth]
        pieces, start = [], 0
        for cut in cuts:
            pieces.append(line[start:cut])
            start = cut
        pieces.append(line[start:])
        lines, current = [], pieces[0]
        for piece in pieces[1:]:
            candidate = current + piece
            if len(candidate) <= width or not current.strip():
                current = candidate
            else:
                lines.append(current.rstrip())
                current = indent + piece.lstrip()
        lines.append(current.rstrip())
        if all(len(text) <= width for text in lines):
            return lines
    # no bracket depth fits: the lines still too long break at their last space that fits
    out = []
    for text in lines:
        while len(text) > width and " " in text[len(indent) + 1:width + 1]:
            cut = text.rindex(" ", len(indent) + 1, width + 1)
            out.append(text[:cut].rstrip())
            text = indent + text[cut:].lstrip()
        out.append(text)
    return out


def render_text(form, header: str, width: int = WIDTH) -> str:
    """The form as text: the header, each step wrapped, then the legend."""
    lines = [header, ""]
    for step in form.steps:
        lines += wrap(f"  {step.name} = {step.text}", width)
    if form.legend:
        lines += ["", "where"]
        for symbol, meaning in form.legend:
            lines += textwrap.wrap(f"{symbol}: {meaning}", width, initial_indent="  ",
                                   subsequent_indent="      ")
    return "\n".join(lines)


def latex_name(name: str) -> str:
    return r"\mathrm{" + name.replace(" ", r"\ ").replace("_", r"\_") + "}"


def render_latex(form) -> str:
    """One LaTeX equation per step (mathtext-compatible), then the legend as comments."""
    lines = [f"{latex_name(step.name)} = {step.latex}" for step in form.steps]
    lines += [f"% {symbol}: {meaning}" for symbol, meaning in form.legend]
    return "\n".join(lines)


def formula_form(strategy: str, metric: str, *, paging=4, pattern: str = "dense", cpu=None,
                 virtualized=False, host_page="4k"):
    """The presentation form of one metric (validates the names like ptcalc.formula)."""
    from ptcalc.api import formula
    from ptcalc.inputs.scenario import parse_paging, parse_strategies
    from ptcalc.model import presentation, tlb

    expr = formula(strategy, metric, paging=paging, pattern=pattern, cpu=cpu,
                   virtualized=virtualized, host_page=host_page).expr
    (name,) = parse_strategies([strategy])
    if metric in tlb.METRIC_NAMES:
        return presentation.tlb_form(name, metric, expr)
    return presentation.form(name, metric, parse_paging(paging), pattern)


def _generated_form(strategy: str, metric: str, paging, pattern: str, cpu, virtualized,
                    host_page):
    """The stored form (ptcalc.present.formula_table: no sympy) of the common variants, or
    None: the dense pattern, and TLB metrics without a CPU on a native walk."""
    from ptcalc.inputs.scenario import PATTERNS, parse_choice, parse_paging, parse_strategies
    from ptcalc.model.tlb_inputs import METRIC_NAMES as TLB_METRICS
    from ptcalc.present import formula_table

    (name,) = parse_strategies([strategy])
    levels = parse_paging(paging)
    pattern = parse_choice(pattern, PATTERNS, "pattern")
    if metric in TLB_METRICS:
        if cpu is not None or virtualized or host_page != "4k":
            return None
        return formula_table.tlb_form(name, metric, levels)
    return formula_table.core_form(name, metric, levels, pattern)


def formula_text(strategy: str, metric: str, *, latex: bool = False, paging=4,
                 pattern: str = "dense", cpu=None, virtualized=False, host_page="4k") -> str:
    from ptcalc.model.tlb_inputs import METRIC_NAMES as TLB_METRICS

    form = _generated_form(strategy, metric, paging, pattern, cpu, virtualized, host_page)
    if form is None:
        form = formula_form(strategy, metric, paging=paging, pattern=pattern, cpu=cpu,
                            virtualized=virtualized, host_page=host_page)
    if latex:
        return render_latex(form)
    if metric in TLB_METRICS:
        from ptcalc.present.formula_table import tlb_doc

        doc = tlb_doc(metric)
        if doc is None:
            from ptcalc.model import tlb

            doc = tlb.metric_doc(metric)
        where = f", {cpu}" if cpu else ""
        text = render_text(form, f"{metric} [{strategy}{where}]")
        return text + "\n\n" + doc.strip()
    return render_text(form, f"{metric} [{form.strategy}, {form.levels}-level, {pattern}]")


def svg_data_uri(latex: str, fontsize: int = 13) -> str:
    """One equation as an SVG image (matplotlib mathtext, glyphs as paths: no fonts, no
    network, no JavaScript), as a data URI."""
    import base64
    import io

    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    out = io.BytesIO()
    mathtext.math_to_image(f"${latex}$", out, prop=FontProperties(size=fontsize), format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def render_html(form, title: str | None = None) -> str:
    """The form as HTML: one rendered equation per step (with its text form as alt text, so
    it can be copied), then the legend as a list."""
    from html import escape

    parts = [f"<h4>{escape(title)}</h4>"] if title else []
    parts.append('<div class="formula">')
    for step in form.steps:
        image = svg_data_uri(f"{latex_name(step.name)} = {step.latex}")
        alt = escape(f"{step.name} = {step.text}", quote=True)
        parts.append(f'<p><img class="eq" src="{image}" alt="{alt}" title="{alt}"></p>')
    parts.append("</div>")
    if form.legend:
        items = "".join(f"<li><b>{escape(symbol)}</b>: {escape(meaning)}</li>"
                        for symbol, meaning in form.legend)
        parts.append(f'<ul class="legend">{items}</ul>')
    return "\n".join(parts)


def show(strategy: str, metric: str, **options):
    """In Jupyter: the form of one metric rendered as images (works offline and in exported
    HTML, unlike LaTeX that needs MathJax)."""
    from IPython.display import HTML

    form = formula_form(strategy, metric, **options)
    return HTML(render_html(form, f"{metric} [{form.strategy}]"))
