"""A sweep's chunks written by other threads while the caller evaluates the next ones.

    with Pipeline(writer) as pipeline:
        for frame in frames:
            pipeline.write(frame)      # returns at once unless `ahead` chunks are waiting

Three kinds of thread, so that the two cores both work (numpy's loops, pyarrow's CSV and
Parquet encoders and file writes release the GIL):

- the caller's thread evaluates chunk after chunk and hands each over;
- encoder threads (one per core, for writers whose encode() may run concurrently: CSV,
  JSON) turn chunks into payloads (bytes), several chunks at once, in any order;
- one writer thread takes the chunks in row order, waits for each one's payload and puts
  it into the file (writer.put).  For Parquet, whose put() is the costly step, it encodes
  too.  A writer with only write(frame) is called from this thread.

At most `ahead` chunks wait between the caller and the file (each holds its frame until
it is encoded, then its payload), which bounds memory whatever the sweep's size.

Errors: the first error of an encoder or of put() is kept; nothing more is put into the
file and the caller's next write() raises it, or leaving the `with` block does.  If the
caller fails (an evaluation error, KeyboardInterrupt, a signal's exception), the chunks
still waiting are dropped and the threads have stopped before the exception goes on, so
nothing reaches the file after the caller gave up.
"""

from __future__ import annotations

import os
import queue
import threading

#: Encoder threads at most: each chunk in flight holds about 80 MB (frame, then text).
MAX_ENCODERS = 4


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Chunk:
    __slots__ = ("error", "frame", "payload", "ready")

    def __init__(self, frame, encoded: bool):
        self.frame = frame
        self.payload = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        if not encoded:
            self.ready.set()


class Pipeline:
    _STOP = object()

    def __init__(self, writer, encoders: int | None = None, ahead: int | None = None):
        self.writer = writer
        self.split = hasattr(writer, "encode") and hasattr(writer, "put")
        if not (self.split and getattr(writer, "parallel", False)):
            encoders = 0
        elif encoders is None:
            encoders = min(MAX_ENCODERS, cores())
        self.ahead = ahead if ahead is not None else encoders + 1
        self.ordered: queue.Queue = queue.Queue(maxsize=max(1, self.ahead))
        self.work: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.cancelled = False
        self.threads = [threading.Thread(target=self._encode_loop, daemon=True,
                                         name=f"ptcalc-sweep-encoder-{i}")
                        for i in range(encoders)]
        self.threads.append(threading.Thread(target=self._write_loop, daemon=True,
                                             name="ptcalc-sweep-writer"))

    @property
    def encoders(self) -> int:
        return len(self.threads) - 1

    def write(self, frame) -> None:
        self._raise()
        chunk = _Chunk(frame, encoded=self.encoders > 0)
        if self.encoders:
            self.work.put(chunk)
        self.ordered.put(chunk)

    def _stopping(self) -> bool:
        return self.cancelled or self.error is not None

    def _encode_loop(self) -> None:
        while True:
            chunk = self.work.get()
            if chunk is self._STOP:
                return
            try:
                if not self._stopping():
                    chunk.payload = self.writer.encode(chunk.frame)
            except BaseException as error:      # raised again in the caller's thread
                chunk.error = error
            finally:
                chunk.frame = None
                chunk.ready.set()

    def _write_loop(self) -> None:
        while True:
            chunk = self.ordered.get()
            if chunk is self._STOP:
                return
            if self._stopping():
                continue
            chunk.ready.wait()
            try:
                if chunk.error is not None:
                    raise chunk.error
                if self.encoders:
                    self.writer.put(chunk.payload)
                elif self.split:
                    self.writer.put(self.writer.encode(chunk.frame))
                else:
                    self.writer.write(chunk.frame)
            except BaseException as error:      # raised again in the caller's thread
                if self.error is None:
                    self.error = error
            finally:
                chunk.frame = chunk.payload = None

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.cancelled = kind is not None
        for _ in range(self.encoders):
            self.work.put(self._STOP)
        self.ordered.put(self._STOP)
        for thread in self.threads:
            thread.join()
        if kind is None:
            self._raise()
