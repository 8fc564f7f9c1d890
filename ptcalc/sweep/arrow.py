"""Result frames as pyarrow tables, straight from the numpy arrays behind the columns.

No pandas round trip (Table.from_pandas walks every column through its generic converter
and writes the pandas metadata): int64 and float64 values are taken without a copy, a
masked column's mask becomes the validity bitmap only when some value is missing,
categorical columns (strategy, access, pattern, reason) become dictionary arrays of their
int8 codes over the few texts, booleans are packed to bits.  Object columns of exact Python
ints (values beyond int64) become decimals of scale 0, as exact; any other object column
becomes text.
"""

from __future__ import annotations


def arrow_table(frame):
    """The frame as a pyarrow Table with the frame's column names and no metadata."""
    import pyarrow as pa

    names = [str(name) for name in frame.columns]
    columns = [arrow_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return pa.Table.from_arrays(columns, names=names)


def arrow_column(series):
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(series.cat.codes)
        missing = codes < 0
        indices = pa.array(codes, mask=missing if missing.any() else None)
        texts = pa.array([str(text) for text in dtype.categories], pa.string())
        return pa.DictionaryArray.from_arrays(indices, texts)
    array = series.array
    if isinstance(array, pd.api.extensions.ExtensionArray):
        values, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
        if isinstance(values, np.ndarray) and isinstance(mask, np.ndarray):
            # IntegerArray, FloatingArray, BooleanArray: numpy values and a numpy mask
            return pa.array(values, mask=mask if mask.any() else None)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            return _object_column(series.tolist())
        # NaN in a plain float column is a missing value, as Table.from_pandas reads it
        return pa.array(np.asarray(series), from_pandas=dtype.kind == "f")
    return pa.array(array)       # any other extension array: its own __arrow_array__


def _object_column(values):
    """Exact Python ints (None or NaN for missing) as decimals; anything else as text."""
    import pyarrow as pa

    values = [None if value is None or value != value else value for value in values]
    if all(value is None or (isinstance(value, int) and not isinstance(value, bool))
           for value in values):
        widest = max((abs(value) for value in values if value is not None), default=0)
        kind = pa.decimal128(38, 0) if widest < 10**38 else pa.decimal256(76, 0)
        return pa.array(values, kind)
    return pa.array([None if value is None else str(value) for value in values], pa.string())


# --- text of the values, as CSV and JSON write them ------------------------------------------

def json_lines(frame, row_end: str = "\n"):
    """Each row as one JSON object followed by `row_end` (a pyarrow Buffer of UTF-8): keys
    in column order; integers exact (int64 and decimals alike); floats in the shortest text
    that reads back as the same double, always with a point or an exponent (1.0, 0.5,
    2.5e+20); true / false; text JSON-escaped; null for NA and for NaN or infinities."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    pieces = []
    for i, name in enumerate(frame.columns):
        head = "{" if i == 0 else ","
        pieces.append(pa.scalar(f"{head}{json.dumps(str(name))}:", pa.string()))
        pieces.append(_json_values(arrow_column(frame.iloc[:, i])))
    pieces.append(pa.scalar("}" + row_end, pa.string()))
    rows = pc.binary_join_element_wise(*pieces, "", null_handling="replace",
                                       null_replacement="null")
    return _values_buffer(rows)


def _json_values(column):
    """The column's values as JSON text (a string array, null where JSON has null)."""
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        texts = pa.array([json.dumps(value) for value in column.dictionary.to_pylist()],
                         pa.string())
        return texts.take(column.indices)
    if pa.types.is_boolean(kind):
        return pa.array(["false", "true"], pa.string()).take(pc.cast(column, pa.int8()))
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        text = pc.cast(column, pa.string())
        # 1 -> 1.0: a float stays a float for a JSON reader
        plain = pc.invert(pc.match_substring_regex(text, "[.eEn]"))
        text = pc.if_else(plain, pc.binary_join_element_wise(text, ".0", ""), text)
        return pc.if_else(finite, text, pa.scalar(None, pa.string()))
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    encoded = pc.dictionary_encode(pc.cast(column, pa.string()))     # other text: escape once
    texts = [json.dumps(value) for value in encoded.dictionary.to_pylist()]
    return pa.array(texts, pa.string()).take(encoded.indices) if len(encoded) else \
        pa.array(np.empty(0, dtype=object), pa.string())


def _values_buffer(strings):
    """The concatenated values of a string array (without copying them)."""
    import numpy as np

    if not len(strings):
        return b""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32,
                            count=len(strings) + 1, offset=strings.offset * 4)
    return strings.buffers()[2][int(offsets[0]):int(offsets[-1])]
