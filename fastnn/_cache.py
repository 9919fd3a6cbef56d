"""fastnn's on-disk cache of compiled kernels.

Numba's own cache (``cache=True``) keys a function to its source file's time stamp
and to its own bytecode.  That is too much and too little for a package whose kernels
call each other: an edit of any line of a file (a docstring, a function that
compiles nothing) drops every kernel of that file, while an edit of a kernel in
another file leaves its cached callers as they were, calling the old code (a
segfault, seen here, when its signature had changed).

:class:`KernelCache` replaces it for every fastnn kernel (see :mod:`fastnn._jit`):

- **Keyed to what a kernel depends on.** The stamp of a kernel is a hash of its
  bytecode (not its docstring) and, transitively, of everything that bytecode names:
  the kernels, intrinsics and Python helpers it calls (their bytecode), the constants
  it reads (their values), the compile options, the versions of Python, NumPy, Numba
  and llvmlite, and what :mod:`fastnn._machine` found (:func:`fingerprint`).  An edit
  recompiles the kernels that read what changed, and nothing else.
- **One file per compiled variant**, named by the stamp and the signature, written
  to a temporary name and renamed into place: two processes that compile at once
  cannot overwrite each other's entries, and a reader sees a whole file or none.
  Numba's index file (one per function, rewritten by every process that adds a
  signature) is not used.  Saving a variant removes the files of older stamps of the
  same kernel.
- **Threads first.** A kernel compiled while a parallel kernel it links was loaded
  from the cache does not record that Numba's threading layer must be started
  before its code is loaded (Numba keeps that note on the compile result, not on the
  library it links), and such a kernel, loaded first in a later process, called
  address 0.  Every load here starts the threading layer before it loads.
- **Where Numba would put it.** The folder is chosen by Numba's locators:
  ``NUMBA_CACHE_DIR`` when set, else ``__pycache__`` beside the module when it is
  writable, else Numba's per-user cache folder (a read-only install).

Each file holds a SHA-256 of its contents, checked before anything in it is
unpickled: a file cut short, damaged, or of another format is a miss, and the kernel
is compiled again and the file replaced.
"""

import dis
import glob
import hashlib
import os
import pickle
import sys
import types as pytypes
import uuid

import llvmlite
import numba
import numpy as np
from numba.core import serialize
from numba.core.caching import CompileResultCacheImpl, _Cache
from numba.core.extending import _Intrinsic

from . import _machine

_PACKAGE = __name__.rpartition(".")[0]
_MAGIC = b"fastnn-kernel-2\n"  # then the SHA-256 of the rest, then the pickled entry
_DIGEST = 32
_SIMPLE = (int, float, complex, bool, str, bytes, type(None))
_VERSIONS = f"py{sys.version_info[:3]} numpy {np.__version__} numba {numba.__version__} llvmlite {llvmlite.__version__}"


def _ours(module_name):
    return module_name == _PACKAGE or module_name.startswith(_PACKAGE + ".")


_GLOBAL_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}


def _dependency_names(code):
    """(globals, attributes): the names ``code`` and the code nested in it load as
    globals, and those it reads as attributes (``np.exp``: ``np``, then ``exp``)."""
    globals_, attributes = set(), set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_LOADS:
            globals_.add(instruction.argval)
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            attributes.add(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            nested = _dependency_names(const)
            globals_ |= nested[0]
            attributes |= nested[1]
    return globals_, attributes


_FUNCTION_DIGESTS = {}
"""(module, qualname) -> the digest of a function and of all it reads: computed once
per process (kernels share most of what they call), for functions not on a cycle."""


class _Fingerprint:
    """A hash of an object and of what compiled code made from it depends on."""

    def __init__(self, open_functions=frozenset()):
        self._hash = hashlib.sha256(f"{_VERSIONS} {_machine.summary()}".encode())
        self._open = open_functions  # the functions being hashed, outside this one
        self.on_cycle = False

    def hexdigest(self):
        return self._hash.hexdigest()

    def _put(self, *parts):
        for part in parts:
            self._hash.update(repr(part).encode())
            self._hash.update(b"\0")

    def value(self, value, names=()):
        """Hash ``value``; ``names`` are the attribute names the code that reads it
        loads, so that only those attributes of one of fastnn's modules count."""
        if isinstance(value, _SIMPLE):
            self._put(value)
        elif isinstance(value, (tuple, list)):
            self._put(type(value).__name__, len(value))
            for item in value:
                self.value(item)
        elif isinstance(value, (set, frozenset)):
            self._put("set", sorted(map(repr, value)))
        elif isinstance(value, dict):
            self._put("dict", len(value))
            for key in sorted(value, key=repr):
                self.value(key)
                self.value(value[key])
        elif isinstance(value, np.ndarray):
            self._put("ndarray", value.dtype.str, value.shape, hashlib.sha256(value.tobytes()).hexdigest())
        elif isinstance(value, (np.generic, np.dtype)):
            self._put(type(value).__name__, repr(value))
        elif hasattr(type(value), "__fastnn_kernel__"):  # a unit (fastnn._jit.Unit)
            dispatcher, returns = value.__fastnn_kernel__
            self._put("unit", returns)
            self.kernel(dispatcher)
        elif isinstance(value, numba.core.dispatcher.Dispatcher):
            self.kernel(value)
        elif isinstance(value, _Intrinsic):
            self._put("intrinsic")
            self.function(value._defn)
        elif isinstance(value, pytypes.FunctionType):
            self.function(value)
        elif isinstance(value, pytypes.ModuleType):
            self.module(value, names)
        elif isinstance(value, type):
            self._put("class", value.__module__, value.__qualname__)
        else:
            # an object whose state is not ours to hash (a Numba type, a builtin):
            # its kind only, never its repr, which may hold a memory address
            self._put("object", type(value).__module__, type(value).__qualname__)

    def module(self, module, names):
        if not _ours(module.__name__):
            top = sys.modules.get(module.__name__.partition(".")[0])
            self._put("module", module.__name__, getattr(top, "__version__", None))
            return
        self._put("module", module.__name__)
        for name in sorted(names):
            if name in vars(module):
                self._put(name)
                self.value(vars(module)[name], names)

    def kernel(self, dispatcher):
        options = dispatcher.targetoptions
        self._put("kernel", sorted((key, repr(sorted(v) if isinstance(v, set) else v))
                                   for key, v in options.items()))
        self.function(dispatcher.py_func)

    def function(self, func):
        token = (func.__module__, func.__qualname__)
        if token in self._open:  # recursion: named, not hashed again
            self._put("function", *token)
            self.on_cycle = True
            return
        digest = _FUNCTION_DIGESTS.get(token)
        if digest is None:
            inner = _Fingerprint(self._open | {token})
            inner._function_body(func)
            digest = inner.hexdigest()
            if inner.on_cycle:  # its digest depends on where the cycle was entered
                self.on_cycle = True
            else:
                _FUNCTION_DIGESTS[token] = digest
        self._put("function", *token, digest)

    def _function_body(self, func):
        self.code(func.__code__, docstring=func.__doc__)
        self.value(func.__defaults__)
        self.value(func.__kwdefaults__)
        if func.__closure__:
            for cell in func.__closure__:
                self.value(cell.cell_contents)
        globals_, attributes = _dependency_names(func.__code__)
        for name in sorted(globals_):
            if name in func.__globals__:
                self._put("global", name)
                self.value(func.__globals__[name], attributes)

    def code(self, code, docstring=None):
        self._put("code", code.co_code, code.co_names, code.co_argcount, code.co_kwonlyargcount)
        consts = code.co_consts
        if docstring is not None and consts and consts[0] == docstring:
            consts = consts[1:]  # the docstring: an edit of it compiles nothing again
        for const in consts:
            if isinstance(const, pytypes.CodeType):
                self.code(const)
            else:
                self.value(const)


def fingerprint(dispatcher):
    """The stamp of a kernel: see the module docstring."""
    digest = _Fingerprint()
    digest.kernel(dispatcher)
    return digest.hexdigest()


def start_threads():
    """Start Numba's threading layer (idempotent; once started, it costs nothing)."""
    numba.get_num_threads()


class KernelCache(_Cache):
    """The cache of one kernel (a Numba dispatcher): see the module docstring."""

    def __init__(self, dispatcher):
        self._dispatcher = dispatcher
        self._enabled = True
        self._impl = None
        self._stamp = None
        func = dispatcher.py_func
        self._base = f"{func.__module__}.{func.__qualname__}".replace("<", "").replace(">", "")

    def _ready(self):
        if self._impl is None:
            # chooses the folder (and checks that it can be written) on first use,
            # not at import
            self._impl = CompileResultCacheImpl(self._dispatcher.py_func)
            self._stamp = fingerprint(self._dispatcher)
        return self._impl

    @property
    def cache_path(self):
        return self._ready().locator.get_cache_path()

    def _key(self, sig, codegen):
        return repr((tuple(sig), codegen.magic_tuple()))

    def _path(self, key):
        folder = self._ready().locator.get_cache_path()
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        return os.path.join(folder, f"{self._base}-{self._stamp[:16]}-{name}.nbc")

    def load_overload(self, sig, target_context):
        if not self._enabled:
            return None
        target_context.refresh()
        key = self._key(sig, target_context.codegen())
        try:
            with open(self._path(key), "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        body = data[len(_MAGIC) + _DIGEST:]
        if data[:len(_MAGIC)] != _MAGIC or data[len(_MAGIC):len(_MAGIC) + _DIGEST] != hashlib.sha256(body).digest():
            return None  # cut short, damaged, or of another format: compile again
        try:
            stored_key, payload = pickle.loads(body)
        except Exception:
            return None
        if stored_key != key:
            return None
        start_threads()
        try:
            return self._ready().rebuild(target_context, payload)
        except Exception:  # a payload that does not rebuild: compile again
            return None

    def save_overload(self, sig, cres):
        if not self._enabled or not self._ready().check_cachable(cres):
            return
        key = self._key(sig, cres.codegen)
        path = self._path(key)
        body = serialize.dumps((key, self._impl.reduce(cres)))
        data = _MAGIC + hashlib.sha256(body).digest() + body
        try:
            self._impl.locator.ensure_cache_path()
            tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:  # a folder that cannot be written: the kernel stays in memory
            return
        self._remove_older(path)

    def _files(self, folder):
        """This kernel's files in ``folder``, of every stamp and signature."""
        pattern = os.path.join(glob.escape(folder), glob.escape(self._base) + "-*-*.nbc")
        return [path for path in glob.glob(pattern)
                if os.path.basename(path).count("-") == self._base.count("-") + 2]

    def _remove_older(self, path):
        """Delete this kernel's files of other stamps (older versions of its code)."""
        current = f"{self._base}-{self._stamp[:16]}-"
        _remove(old for old in self._files(os.path.dirname(path)) if not os.path.basename(old).startswith(current))

    def enable(self):
        self._enabled = True

    def disable(self):
        self._enabled = False

    def flush(self):
        _remove(self._files(self.cache_path))


def _remove(paths):
    for path in paths:
        try:
            os.remove(path)
        except OSError:  # read-only, or another process removed it first
            pass
