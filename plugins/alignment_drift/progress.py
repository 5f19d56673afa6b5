"""Progress of long operations: a bar on a terminal, a periodic log line elsewhere (Airflow task logs).

>>> import io
>>> out = io.StringIO()
>>> progress = Progress("profiling", unit="rows", total=10, stream=out, every=0)
>>> progress.update(4); progress.update(6); progress.close()
>>> "profiling: 10/10 rows (100%)" in out.getvalue()
True
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_LOG = logging.getLogger("alignment_drift.progress")


class Progress:
    """Count work done and show it: redrawn in place on a terminal, a line every ``every`` seconds otherwise.

    Parameters
    ----------
    label : str
        What is being done.
    unit : str
        What is counted.
    total : int, optional
        The expected count, for a percentage and an estimate of the time left.
    stream : text stream, optional
        Where a terminal bar goes (default ``sys.stderr``); when it is not a
        terminal, lines go to the ``alignment_drift.progress`` logger instead
        (and to ``stream`` when it was given explicitly).
    every : float
        Seconds between two lines when not on a terminal.
    """

    def __init__(
        self,
        label: str,
        *,
        unit: str = "items",
        total: int | None = None,
        stream: TextIO | None = None,
        every: float = 10.0,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"The 'total' parameter must be >= 0. Got {total} instead.")
        if every < 0:
            raise ValueError(f"The 'every' parameter must be >= 0 seconds. Got {every} instead.")
        self.label, self.unit, self.total, self.every = label, unit, total, every
        self._explicit = stream is not None
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._done = 0
        self._began = self._last = time.monotonic()

    def _line(self) -> str:
        elapsed = time.monotonic() - self._began
        rate = self._done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {self._done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"
        if self.total:
            text += f" ({100 * self._done / self.total:.0f}%)"
            if rate > 0 and self._done < self.total:
                text += f", ~{(self.total - self._done) / rate:.0f} s left"
        return text + f", {elapsed:.1f} s"

    def _emit(self, final: bool = False) -> None:
        line = self._line()
        if self._tty:
            self._stream.write("\r" + line + ("\n" if final else ""))
            self._stream.flush()
            return
        _LOG.info("%s", line)
        if self._explicit:
            self._stream.write(line + "\n")

    def update(self, n: int = 1) -> None:
        """Add ``n`` to the count; show it when due."""
        self._done += n
        now = time.monotonic()
        if self._tty or now - self._last >= self.every:
            self._last = now
            self._emit()

    def close(self) -> None:
        """Show the final count."""
        self._emit(final=True)
