"""What can stop a guest, as exceptions that carry the one line a user sees and an exit status."""

from __future__ import annotations


class XlateError(Exception):
    """A failure reported to the user in one line, with the exit status a native run would give."""

    exit_status = 1

    def __init__(self, message: str, exit_status: int | None = None) -> None:
        super().__init__(message)
        if exit_status is not None:
            self.exit_status = exit_status


class LoadError(XlateError):
    """The program cannot be loaded: 127 when it is missing, 126 when it is not a valid program,
    as a shell reports them."""

    exit_status = 126
