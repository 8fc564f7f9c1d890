"""`ptcalc strategies` as text: one block per strategy, its fields wrapped to the terminal
(ptcalc.present.fit) with continuation lines indented under the field's text."""

from __future__ import annotations

from ptcalc.present import fit as fitting

_LABEL = "  {:<10}"          # "  shares:   " — the text of every field starts at column 12


def _field(label: str, text: str, width: int | None) -> str:
    line = (_LABEL.format(label + ":") + text).rstrip()
    return fitting.wrap(line, width, indent=" " * 10)


def strategy_listing(strategies, width: int | None = None) -> str:
    """Each strategy's name, what it shares, its rules, upstream status and sources."""
    width = fitting.current().width if width is None else width
    blocks = []
    for s in strategies:
        lines = [s.name, _field("shares", s.shared, width), _field("rule", s.rule, width),
                 _field("layouts", s.layout_rule, width),
                 _field("upstream", s.upstream.summary(), width)]
        lines += [_field("source", f"{what}: {address}", width) for what, address in s.sources]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
