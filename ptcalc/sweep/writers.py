"""Writing results that arrive in chunks: the writers per format (CSV, JSON, JSON lines,
Parquet) and a plain-text progress bar.  The file they write into is opened by the caller
with ``ptcalc.present.files.atomic_file`` (complete or not at all).

The CSV format (RFC 4180, UTF-8, "\\n" line ends), kept stable:

- a header line of the column names, unquoted;
- integers in decimal digits, exact at any size (values beyond 64 bits too);
- text (strategy, access, pattern, reason, ...) always in double quotes, a quote doubled;
- true / false for booleans; an empty field where a value does not exist (a metric of a
  strategy that does not apply);
- floats (ratios, touched, expected values of the random pattern) in the shortest text that
  reads back as the same double: 0.5, 1, 0.00001, 2.5e+20.

It is written by pyarrow's CSV writer (the figure of benchmarks/figures/sweep.py); without
pyarrow, by pandas with the same values: text quoted only where needed and floats as
Python's repr (1.0, 1e-05).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from ptcalc.errors import InputError

FILE_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
                ".parquet": "parquet", ".pq": "parquet"}
STRING_COLUMNS = ("access", "pattern", "strategy", "reason", "fallback")


def file_format(path: str) -> str:
    """The format an output file's extension asks for; InputError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FILE_FORMATS:
        raise InputError(f"output {path!r} has an unknown extension {suffix or '(none)'!r}; "
                         f"use one of: {', '.join(FILE_FORMATS)}")
    if FILE_FORMATS[suffix] == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise InputError(f"output {path!r}: writing Parquet needs pyarrow; install it "
                             "(pip install 'ptcalc[parquet]') or write .csv or .json") from None
    return FILE_FORMATS[suffix]


# --- writers ----------------------------------------------------------------------------------

class CsvWriter:
    """CSV in the format of the module docstring, chunk by chunk.  `stream` is a binary file
    (the fast way) or a text stream."""

    def __init__(self, stream):
        self.stream = stream
        self.binary = not isinstance(stream, io.TextIOBase)
        self.first = True

    def _put(self, data: bytes) -> None:
        self.stream.write(data if self.binary else data.decode("utf-8"))

    def write(self, frame) -> None:
        if self.first:
            self._put((",".join(map(str, frame.columns)) + "\n").encode("utf-8"))
            self.first = False
        if not len(frame):
            return
        try:
            import pyarrow.csv  # noqa: F401
        except ImportError:
            self._put(_pandas_csv(frame))
            return
        self._put(_arrow_csv(frame))

    def close(self) -> None:
        pass


def _arrow_table(frame):
    """The frame as a pyarrow Table, exact: object columns of Python ints (beyond int64)
    become decimals of scale 0, text columns stay text."""
    import pyarrow as pa

    plain = [name for name in frame.columns if frame[name].dtype != object]
    converted = pa.Table.from_pandas(frame[plain], preserve_index=False) if plain else None
    columns = []
    for name in frame.columns:
        if name in plain:
            columns.append(converted.column(name))
            continue
        values = frame[name].tolist()
        values = [None if value is None or value != value else value for value in values]
        if all(value is None or isinstance(value, int) for value in values):
            widest = max((abs(v) for v in values if v is not None), default=0)
            kind = pa.decimal128(38, 0) if widest < 10**38 else pa.decimal256(76, 0)
            columns.append(pa.array(values, kind))
        else:
            columns.append(pa.array([None if v is None else str(v) for v in values],
                                    pa.string()))
    table = pa.Table.from_arrays(columns, names=[str(name) for name in frame.columns])
    return table.replace_schema_metadata(None)


def _arrow_csv(frame) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = _arrow_table(frame)
    # categorical text as plain strings: the CSV writer formats those faster
    table = table.cast(pa.schema([
        pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
        for f in table.schema]))
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink,
                     pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _pandas_csv(frame) -> bytes:
    """The same values through pandas (no pyarrow): exact ints, true/false, empty for NA;
    text quoted where needed only, floats as Python's repr."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == bool or str(column.dtype) == "boolean":
            out[name] = column.map({True: "true", False: "false"}).astype(object)
    return out.to_csv(header=False, index=False, lineterminator="\n").encode("utf-8")


class JsonWriter:
    """A JSON array of objects (json) or one object per line (jsonl), streamed by chunk.
    Exact integers; NA as null."""

    def __init__(self, stream, lines: bool = False):
        self.stream = stream
        self.lines = lines
        self.first = True

    def write(self, frame) -> None:
        text = _records_json(frame)
        if not text:
            return
        if self.lines:
            self.stream.write(text + "\n")
        else:
            self.stream.write(("[\n" if self.first else ",\n") + text.replace("\n", ",\n"))
        self.first = False

    def close(self) -> None:
        if not self.lines:
            self.stream.write("[]\n" if self.first else "\n]\n")


def _records_json(frame) -> str:
    try:
        return frame.to_json(orient="records", lines=True, double_precision=15).rstrip("\n")
    except (OverflowError, ValueError):     # Python ints beyond 64 bits: the slow, exact way
        import json

        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return "\n".join(json.dumps(row, default=_plain) for row in rows)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


class ParquetWriter:
    """One Parquet file written row group by row group; the schema is fixed by the first
    chunk (text columns as strings).  `stream` is a binary file object; `path` names it in
    errors."""

    def __init__(self, stream, path: str):
        self.stream = stream
        self.path = path
        self.writer = None
        self.schema = None

    def write(self, frame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, OverflowError) as error:
            raise InputError(f"output {self.path!r}: a value does not fit Parquet's 64-bit "
                             f"integers ({error}); write .csv or .json instead") from None
        table = table.replace_schema_metadata(None)
        if self.schema is None:
            fields = [pa.field(f.name, pa.string() if f.name in STRING_COLUMNS else f.type)
                      for f in table.schema]
            self.schema = pa.schema(fields)
            self.writer = pq.ParquetWriter(self.stream, self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def open_writer(fmt: str, stream, path: str | None = None):
    if fmt == "csv":
        return CsvWriter(stream)
    if fmt in ("json", "jsonl"):
        return JsonWriter(stream, lines=fmt == "jsonl")
    if fmt == "parquet":
        return ParquetWriter(stream, path)
    raise InputError(f"format {fmt!r} cannot be streamed; use csv or json")


# --- progress -----------------------------------------------------------------------------------

class Progress:
    """A one-line text progress bar on stderr: `\\r` updates at most a few times a second."""

    def __init__(self, total: int, what: str = "scenarios", enabled: bool = True,
                 stream=None, width: int = 30):
        self.total = max(1, total)
        self.what = what
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def update(self, done: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.shown < 0.25:
            return
        self.shown = now
        fraction = min(1.0, done / self.total)
        filled = int(self.width * fraction)
        elapsed = now - self.started
        eta = f", {elapsed / fraction - elapsed:.0f} s left" if 0 < fraction < 1 else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{100 * fraction:5.1f}% {done:,}/{self.total:,} {self.what}, "
                          f"{elapsed:.0f} s{eta}   ")
        self.stream.flush()
        self.drawn = True

    def finish(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            self.stream.write("\n")
            self.stream.flush()


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
