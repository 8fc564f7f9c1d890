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
#
# A writer turns each chunk into what goes into the file in two steps, so that a sweep can
# run them in other threads (ptcalc.sweep.run): encode(frame) -> payload, which several
# threads may call at once for different chunks (CSV and JSON: the text), and put(payload),
# called once per chunk in row order from one thread (the file's bytes, or Parquet's
# encoding of a row group).  write(frame) does both; close() ends the file.

class CsvWriter:
    """CSV in the format of the module docstring, chunk by chunk.  `stream` is a binary file
    (the fast way) or a text stream."""

    parallel = True          # encode() of different chunks may run at once
    #: rows per chunk at most: several chunks are in flight (frame, then text: ~300 B a row)
    max_chunk_rows = 1 << 17

    def __init__(self, stream):
        self.stream = stream
        self.binary = not isinstance(stream, io.TextIOBase)
        self.first = True
        self.row_bytes = 0.0     # the widest chunk's bytes per row so far: buffers' size

    def encode(self, frame):
        """(column names, the rows' CSV bytes)."""
        names = [str(name) for name in frame.columns]
        if not len(frame):
            return names, b""
        try:
            import pyarrow.csv  # noqa: F401
        except ImportError:
            return names, _pandas_csv(frame)
        data = _arrow_csv(frame, int(self.row_bytes * 1.25 * len(frame)) + (1 << 16))
        self.row_bytes = max(self.row_bytes, data.size / len(frame))
        return names, data

    def put(self, payload) -> None:
        names, data = payload
        if self.first:
            self._put((",".join(names) + "\n").encode("utf-8"))
            self.first = False
        if len(data):
            self._put(data)

    def write(self, frame) -> None:
        self.put(self.encode(frame))

    def _put(self, data) -> None:
        if self.binary:
            self.stream.write(data)
        else:
            self.stream.write(bytes(data).decode("utf-8"))

    def close(self) -> None:
        pass


def _arrow_csv(frame, capacity: int = 0):
    """The rows as CSV (a pyarrow Buffer): text columns quoted, NA empty.  Written into a
    buffer of `capacity` bytes allocated at once (a growing one copies and faults its pages
    in again at each doubling: a fifth of the time), or a growing one if it overflows."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from ptcalc.sweep.arrow import arrow_column

    # dictionary text as plain strings: the CSV writer formats those faster
    columns = []
    for i in range(frame.shape[1]):
        column = arrow_column(frame.iloc[:, i])
        columns.append(column.dictionary_decode() if pa.types.is_dictionary(column.type)
                       else column)
    table = pa.Table.from_arrays(columns, names=[str(name) for name in frame.columns])
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    if capacity > 1 << 16:
        buffer = pa.allocate_buffer(capacity)
        sink = pa.FixedSizeBufferWriter(buffer)
        try:
            pa_csv.write_csv(table, sink, options)
            return buffer.slice(0, sink.tell())
        except OSError:          # "Write out of bounds": wider rows than so far
            pass
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, options)
    return sink.getvalue()


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
    Exact integers, floats in the shortest text that reads back as the same double
    (always with a point or an exponent: 1.0), NA as null.  Written through pyarrow's
    compute functions; without pyarrow, by pandas (floats then to 15 significant digits).
    `stream` is a binary file or a text stream."""

    parallel = True
    #: rows per chunk at most: a chunk's JSON is about 4x its CSV (the keys repeat)
    max_chunk_rows = 1 << 16

    def __init__(self, stream, lines: bool = False):
        self.stream = stream
        self.binary = not isinstance(stream, io.TextIOBase)
        self.lines = lines
        self.first = True

    def encode(self, frame):
        """The chunk's rows, one object per line, "\n" (jsonl) or ",\n" (json) between
        them and nothing after the last."""
        between = "\n" if self.lines else ",\n"
        if not len(frame):
            return b""
        try:
            import pyarrow.compute  # noqa: F401
        except ImportError:
            return _records_json(frame).replace("\n", between).encode("utf-8")
        from ptcalc.sweep.arrow import json_lines

        data = json_lines(frame, row_end=between)
        return data.slice(0, data.size - len(between))

    def put(self, data) -> None:
        if not len(data):
            return
        if self.lines:
            self._put(data, b"\n")
        else:
            self._put(b"[\n" if self.first else b",\n", data)
        self.first = False

    def write(self, frame) -> None:
        self.put(self.encode(frame))

    def _put(self, *parts) -> None:
        for part in parts:
            self.stream.write(part if self.binary else bytes(part).decode("utf-8"))

    def close(self) -> None:
        if not self.lines:
            self._put(b"[]\n" if self.first else b"\n]\n")


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


#: A column chunk's dictionary grows to this size at most, then the column is written plain:
#: columns with many distinct values (bytes, faults, ratios) stop being hashed early, the
#: repetitive ones (scenario columns, text, flags) keep their dictionaries.  Smaller than
#: the default 1 MiB: about 30 % less encoding time and a file no larger, measured on a
#: 10**5-scenario sweep (row groups of 2**18 rows).
DICTIONARY_PAGE_BYTES = 1 << 16


class ParquetWriter:
    """One Parquet file written row group by row group; the schema is fixed by the first
    chunk.  Text columns are Parquet strings (UTF8), read back as strings: they are handed
    over as dictionary arrays, which Parquet's dictionary encoding takes as they are (no
    hashing of every value), and the file stores no Arrow schema that would make readers
    return them as dictionaries.  `stream` is a binary file object; `path` names it in
    errors."""

    parallel = False         # put() encodes; encode() only converts

    def __init__(self, stream, path: str):
        self.stream = stream
        self.path = path
        self.writer = None
        self.schema = None

    def encode(self, frame):
        import pyarrow as pa

        from ptcalc.sweep.arrow import arrow_table

        table = arrow_table(frame)
        for i, field in enumerate(table.schema):
            if pa.types.is_decimal(field.type):      # exact ints: int64 if they all fit
                try:
                    column = table.column(i).cast(pa.int64())
                except (pa.ArrowInvalid, OverflowError):
                    raise InputError(f"output {self.path!r}: column {field.name!r} has a "
                                     "value beyond Parquet's 64-bit integers; write .csv or "
                                     ".json instead") from None
                table = table.set_column(i, field.name, column)
        return table

    def put(self, table) -> None:
        import pyarrow.parquet as pq

        if self.schema is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.stream, self.schema, store_schema=False,
                                           dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self.writer.write_table(table)

    def write(self, frame) -> None:
        self.put(self.encode(frame))

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
