"""Generate ptcalc/compute/_loops.py: the dense formulas of ptcalc/compute/_compiled.py as
row loops that write evaluate's output columns directly.

Each loop is the generated function's statements, unchanged but for the `_n` helpers written
as plain scalar Python (floor_div -> // or a shift, where -> `a if c else b`, minimum -> min,
...), inside `for row in range(len(...))`, followed by one store per metric into the output
column views it is given (the caller slices them: a chunk of rows of one strategy), and the
reason code and applicability when the strategy has conditions.  NA masks are the caller's
(one vector operation per column).  The loops are plain Python (tests run them as such);
ptcalc.compute.loops compiles them with numba, where a row's temporaries stay in registers
instead of a column each.

Only the dense pattern and only functions without `**`: integer arithmetic is exact in any
implementation and IEEE +, -, *, / give the same float in numpy and in compiled code, while
a power need not (numba may expand an integer exponent into multiplications).

    python -m ptcalc.model.loopgen [--check]     (ptcalc.model.codegen runs it too)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

COMPILED = Path(__file__).resolve().parent.parent / "compute" / "_compiled.py"
TARGET = COMPILED.with_name("_loops.py")
COMMAND = "python -m ptcalc.model.loopgen"


class _Scalar(ast.NodeTransformer):
    """`_n.helper(...)` -> the same operation on Python scalars; division and remainder by a
    power of two (a constant, or the fault-around size, which always is one) as a shift and a
    mask, exact floor semantics in two's complement and free of branches."""

    def visit_Call(self, node):
        self.generic_visit(node)
        function = node.func
        if not (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
                and function.value.id == "_n"):
            return node
        name, args = function.attr, node.args
        if name == "floor_div":
            return _divide(args[0], args[1])
        if name == "ceil_div":      # -((-a) // b)
            return ast.UnaryOp(ast.USub(), _divide(ast.UnaryOp(ast.USub(), args[0]), args[1]))
        if name == "mod":
            mask = _power_of_two(args[1], minus_one=True)
            return ast.BinOp(args[0], ast.Mod() if mask is None else ast.BitAnd(),
                             args[1] if mask is None else mask)
        if name == "where":
            return ast.IfExp(args[0], args[1], args[2])
        if name in ("minimum", "maximum"):
            return ast.Call(ast.Name("min" if name == "minimum" else "max", ast.Load()),
                            args, [])
        if name in ("logical_and", "logical_or"):
            return ast.BoolOp(ast.And() if name == "logical_and" else ast.Or(), args)
        raise ValueError(f"no scalar form for _n.{name}")


def _power_of_two(divisor, minus_one=False):
    """The shift (or, with minus_one, the mask) that replaces a power-of-two divisor."""
    if isinstance(divisor, ast.Name) and divisor.id == "fault_around_bytes":
        return (ast.BinOp(divisor, ast.Sub(), ast.Constant(1)) if minus_one
                else ast.Name("fault_around_shift", ast.Load()))
    if (isinstance(divisor, ast.Constant) and type(divisor.value) is int and divisor.value > 0
            and not divisor.value & (divisor.value - 1)):
        return ast.Constant(divisor.value - 1 if minus_one else divisor.value.bit_length() - 1)
    return None


def _divide(dividend, divisor):
    shift = _power_of_two(divisor)
    if shift is None:
        return ast.BinOp(dividend, ast.FloorDiv(), divisor)
    return ast.BinOp(dividend, ast.RShift(), shift)


def _registry(tree, name: str) -> dict:
    """The literal dict `name = {key: function or (function, texts)}` of _compiled.py."""
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == name):
            found = {}
            for key, value in zip(statement.value.keys, statement.value.values):
                function = value.elts[0] if isinstance(value, ast.Tuple) else value
                found[ast.literal_eval(key)] = function.id
            return found
    raise ValueError(f"{name} not found in {COMPILED.name}")


def _has_power(function) -> bool:
    return any(isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)
               for node in ast.walk(function))


def _loop_source(name, metrics, conditions, arguments, scalar_arguments) -> str:
    """One row loop (see the module text) from the metrics and conditions functions."""
    *statements, returned = metrics.body
    hits = conditions.body[-1].value.elts
    used = {node.id for node in ast.walk(metrics) if isinstance(node, ast.Name)}
    used |= {node.id for node in ast.walk(conditions) if isinstance(node, ast.Name)}
    columns = [a for a in arguments if a not in scalar_arguments]
    params = [f"{a}_column" if a in columns else a for a in arguments]
    outputs = [f"values_{index}" for index in range(len(returned.value.elts))]
    lines = [(f"def {name}({', '.join(params)}, fault_around_shift, values, applicable, "
              "reasons, reason_table):"),
             f"    ({', '.join(outputs)},) = values",
             f"    for row in range({columns[0]}_column.shape[0]):"]
    lines += [f"        {a} = {a}_column[row]" for a in columns if a in used]
    if hits:
        terms = [f"(1 if {ast.unparse(_Scalar().visit(hit))} else 0)"
                 + (f" << {bit}" if bit else "") for bit, hit in enumerate(hits)]
        lines += ["        bits = " + " | ".join(terms),
                  "        reasons[row] = reason_table[bits]",
                  "        applicable[row] = bits == 0"]
    lines += ["        " + ast.unparse(_Scalar().visit(s)) for s in statements]
    for output, element in zip(outputs, returned.value.elts):
        absent = isinstance(element, ast.Constant) and element.value is None
        value = "0" if absent else ast.unparse(_Scalar().visit(element))
        lines.append(f"        {output}[row] = {value}")
    return "\n".join(lines)


def generate(compiled_source: str | None = None) -> str:
    source = COMPILED.read_text() if compiled_source is None else compiled_source
    tree = ast.parse(source)
    defined = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    arguments = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and statement.targets[0].id == "ARGUMENTS":
            arguments = ast.literal_eval(statement.value)
    out = [('"""GENERATED by `python -m ptcalc.model.loopgen` from ptcalc/compute/_compiled.py: '
            'do not edit."""'),
           "# ruff: noqa", ""]
    registry = []
    conditions = _registry(tree, "CONDITIONS")
    for (strategy, levels, pattern), fname in _registry(tree, "FUNCTIONS").items():
        metrics = defined[fname]
        if pattern != "dense" or _has_power(metrics):
            continue
        name = fname.replace("metrics_", "rows_", 1)
        out += ["", _loop_source(name, metrics, defined[conditions[(strategy, levels)]],
                                 arguments, ("fault_around_bytes",)), ""]
        registry.append(f"    ({strategy!r}, {levels}): {name},")
    out += ["", "LOOPS = {", *registry, "}", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    from ptcalc.model.codegen import write_or_check

    argv = sys.argv[1:] if argv is None else argv
    return write_or_check(TARGET, generate(), "--check" in argv, COMMAND)


if __name__ == "__main__":
    raise SystemExit(main())
