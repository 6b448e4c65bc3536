"""Saying so while the model loads: importing torch and sentence-transformers and loading the weights takes
seconds on a small machine, and a command that is silent that long looks hung.

`ModelLoad` wraps how the embedder is made. Its `pending` factory hands the index an embedder whose name is
known at once and whose work waits for the model, so the index opens (and, with `start`, the model loads in
a background thread meanwhile) without waiting. Whoever first needs the model waits for it behind a
spinner on stderr: only on a terminal, never in --json output or a pipe. Nothing heavy is imported here.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from newsqa.index.models.embedder import Embedder

MESSAGE = "loading the model"
_FRAMES = "|/-\\"


class ModelLoad:
    """The embedder `factory` makes, made once (in a background thread once started), waited on visibly."""

    def __init__(
        self,
        factory: Callable[[], Embedder],
        name: str,
        *,
        show: bool,
        stream: IO[str] | None = None,
        before: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._factory = factory
        self._show = show
        self._stream = stream or sys.stderr
        self.before, self.after = before, after  # e.g. a progress bar cleared, then restarted
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._spinner: threading.Thread | None = None
        self._result: Embedder | None = None
        self._error: BaseException | None = None

    def start(self) -> ModelLoad:
        """Begin loading now, in the background (the spinner at once, when shown): the caller has other
        work before it needs the model."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="model-load", daemon=True)
            self._thread.start()
            if self._show:
                if self.before is not None:
                    self.before()
                self._spinner = threading.Thread(target=self._spin, name="model-spinner", daemon=True)
                self._spinner.start()
        return self

    def pending(self) -> Embedder:
        """An embedder that loads (or waits for) the model only when first used: the factory to hand on."""
        return _Pending(self)  # type: ignore[return-value]

    def get(self) -> Embedder:
        """The model, waiting for it (spinner shown) if it is still loading."""
        with self._lock:
            if self._result is None and self._error is None:
                self.start()
                assert self._thread is not None
                self._thread.join()
                if self._spinner is not None:
                    self._spinner.join()  # its line is cleared
                    if self.after is not None:
                        self.after()
            if self._error is not None:
                raise self._error
            assert self._result is not None
            return self._result

    def _load(self) -> None:
        try:
            self._result = self._factory()
        except BaseException as exc:  # re-raised in the thread that needs the model
            self._error = exc

    def _spin(self) -> None:
        assert self._thread is not None
        try:
            for frame in itertools.cycle(_FRAMES):
                self._stream.write(f"\r{MESSAGE} ... {frame}")
                self._stream.flush()
                self._thread.join(0.1)
                if not self._thread.is_alive():
                    break
        finally:
            self._stream.write("\r" + " " * (len(MESSAGE) + 6) + "\r")  # the line is free again
            self._stream.flush()


class _Pending:
    """Stands in for the embedder: its name at once, everything else once the model is there."""

    def __init__(self, load: ModelLoad) -> None:
        self.name = load.name
        self._load = load

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._load.get().embed(texts, progress=progress)

    def __getattr__(self, attr: str) -> Any:  # dim, embed_queries, ...: the model's own
        return getattr(self._load.get(), attr)
