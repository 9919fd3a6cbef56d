"""How threads share one :class:`fastnn.Network`: work buffers lent to one call at a
time, and a lock under which reads run together and a change runs alone.

The compiled passes release the GIL and keep their intermediate values in a
workspace (:mod:`fastnn.loops.passes`); two calls writing one workspace at once
return each other's numbers.  So a workspace is never used by two calls at once:
:class:`Shared` lends one per call and takes it back, and allocates a new one only
when every one of that batch size is out (as many as calls ran at once).  A loop of
steps takes back the same one each time and allocates nothing.

Calls that only read the parameters (``predict``, ``loss``, ``gradients``) run at
the same time; calls that change them (``fit``, ``train_step``, assigning weights)
wait until no other call runs, then run alone, one at a time (a readers-writer lock
that lets a waiting change go first, so that a stream of reads cannot hold a fit
off forever).  The thread that is changing a network may also read it (``fit``'s
validation loss, a callback's ``predict``) and change it again.
"""

import threading

import numpy as np

from . import _buffers
from ._codes import N_OUT

PAD = 16
"""Elements: every slot of a parameter or work buffer starts on a 64-byte boundary
for float32 (128 for float64)."""

KEEP_SIZES = 4
"""Batch sizes whose workspaces are kept: memory stays bounded when batch sizes vary."""


def pad(size):
    """``size`` rounded up to a multiple of :data:`PAD`."""
    return -(-size // PAD) * PAD


class Workspace:
    """Work buffers for batches of up to ``batch`` samples (see fastnn.loops.passes)."""

    def __init__(self, spec, n_in, n_out, batch, dtype):
        widths = [int(n_in)] + [int(v) for v in spec[:, N_OUT]]
        widest = max(widths)
        sizes = [batch * w for w in widths] + [batch * widest, batch * widest, batch, batch * n_out]
        offsets = np.zeros(len(sizes), dtype=np.int64)
        offsets[1:] = np.cumsum([pad(size) for size in sizes[:-1]])
        self.layout = offsets
        self.work = _buffers.zeros(int(offsets[-1]) + pad(sizes[-1]), dtype)
        self.label_buf = np.zeros(batch, dtype=np.intp)
        self.batch = batch
        self.grads = None  # a gradient buffer for `Network.gradients`: gradient_buffer

    def gradient_buffer(self, size):
        """This workspace's own gradient buffer of ``size`` elements, made on first use
        (the training steps write the network's own ``grads``)."""
        if self.grads is None:
            self.grads = _buffers.zeros(size, self.work.dtype)
        return self.grads


class Shared:
    """The readers-writer lock of one network and the workspaces it lends (see the
    module docstring).  ``make(batch)`` builds a workspace.

    A call enters with :meth:`start_read` or :meth:`start_write`, which also lend it
    a workspace when it asks for one, and leaves with :meth:`end_read` or
    :meth:`end_write`, which take it back: one plain lock each way when no other
    thread waits, as every call pays it (docs/design-notes.md).
    ``with shared.write:`` holds the network for a change without a workspace.
    """

    def __init__(self, make):
        self._make = make
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._free = {}  # batch size -> the workspaces not lent; the newest size last
        self._readers = 0
        self._writer = None  # the thread that holds the network for a change
        self._depth = 0  # how many times that thread entered
        self._writers_waiting = 0
        self._sleeping = 0  # threads in `_changed.wait()`
        self.write = _Write(self)

    def _wait(self):
        self._sleeping += 1
        try:
            self._changed.wait()
        finally:
            self._sleeping -= 1

    def _lend(self, batch):
        # under the lock
        free = self._free.get(batch)
        return free.pop() if free else None

    def _new(self, workspace, batch, leave):
        # a workspace made outside the lock when none was free; leaving again if
        # that fails (out of memory), so that no count is left behind
        if workspace is not None or not batch:
            return workspace
        try:
            return self._make(batch)
        except BaseException:
            leave()
            raise

    def _take_back(self, workspace):
        # under the lock
        free = self._free.get(workspace.batch)
        if free is None:
            free = self._free[workspace.batch] = []
            while len(self._free) > KEEP_SIZES:
                del self._free[next(iter(self._free))]
        free.append(workspace)

    def start_read(self, batch=0):
        """Enter as a reader (waiting while a change runs or waits); returns a
        workspace for ``batch`` samples, or None for ``batch=0``."""
        with self._lock:
            if self._writer is None and not self._writers_waiting:
                self._readers += 1
            elif self._writer != threading.get_ident():
                while self._writer is not None or self._writers_waiting:
                    self._wait()
                self._readers += 1
            # else: a read inside this thread's own change, not counted
            workspace = self._lend(batch) if batch else None
        return self._new(workspace, batch, self.end_read)

    def end_read(self, workspace=None):
        """Leave a :meth:`start_read`, giving its workspace back."""
        with self._lock:
            if workspace is not None:
                self._take_back(workspace)
            if self._writer is not None and self._writer == threading.get_ident():
                return
            self._readers -= 1
            if not self._readers and self._sleeping:
                self._changed.notify_all()

    def start_write(self, batch=0):
        """Enter alone (waiting until no other call runs); returns a workspace for
        ``batch`` samples, or None for ``batch=0``.  The thread that holds the
        network may enter again."""
        me = threading.get_ident()
        with self._lock:
            if self._writer == me:
                self._depth += 1
            else:
                if self._writer is not None or self._readers:
                    self._writers_waiting += 1
                    try:
                        while self._writer is not None or self._readers:
                            self._wait()
                    finally:
                        self._writers_waiting -= 1
                self._writer, self._depth = me, 1
            workspace = self._lend(batch) if batch else None
        return self._new(workspace, batch, self.end_write)

    def end_write(self, workspace=None):
        """Leave a :meth:`start_write`, giving its workspace back."""
        with self._lock:
            if workspace is not None:
                self._take_back(workspace)
            self._depth -= 1
            if not self._depth:
                self._writer = None
                if self._sleeping:
                    self._changed.notify_all()


class _Write:
    __slots__ = ("_shared",)

    def __init__(self, shared):
        self._shared = shared

    def __enter__(self):
        self._shared.start_write()

    def __exit__(self, *exc):
        self._shared.end_write()
