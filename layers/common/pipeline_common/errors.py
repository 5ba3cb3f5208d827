"""Errors that end a run with a readable record instead of a retry."""

from __future__ import annotations


class InputRejected(Exception):
    """The input cannot be processed as it is; retrying will not help.

    ``reason`` is one line a person can act on; ``details`` names the offending
    columns, lines or values.
    """

    def __init__(self, reason: str, **details):
        super().__init__(reason)
        self.reason = reason
        self.details = details
