"""The one exception type for bad input.  The CLI prints its message on one line, exit 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: the message names the value and what is accepted."""
