"""The one error the data layer raises: a message for the user that says what is wrong with the
data and what to do about it."""

from __future__ import annotations


class DataError(RuntimeError):
    """Data that cannot be loaded; the message names the file and what to do."""
