"""How fastnn's kernels are compiled: :func:`jit` and :func:`unit`.

Numba compiles every jitted function called from another one into a library of
its own, then links that library's LLVM module into the caller and optimizes and
generates code for the whole again (``CPUCodeLibrary.finalize``).  So a kernel
reached through a chain of callers is compiled once per link of the chain, and
every entry point that reaches it (``fit``, ``predict``, ``train_step``, the public
dense kernels) pays for all of them again (docs/design-notes.md).

A **unit** is compiled once per signature and called from other kernels through
its address, never linked into them:

- each call site holds a private slot for the unit's address, empty in a new
  process; the first call asks :func:`_unit_address` (a C callback) for it, which
  compiles the unit or loads it from the cache, and fills the slot.  Later calls
  load the slot and call through it (an indirect call more than a linked one).
- the caller's machine code therefore holds no address and no symbol of this
  process: it can be cached and loaded by any later process, whatever that process
  compiled or loaded before.

The rule here: the GEMM, its block, every kernel with a parallel loop, the direct
dense loops and the network passes are units.  They are the code that is long to
compile or that several entry points share; what links them is short.  A unit
called inside a parallel loop (the GEMM's blocks) looks its address up from a
worker thread, through a callback that takes the GIL: every fastnn kernel releases
the GIL (``nogil``), so the lookup never waits for a thread that holds it.

:func:`jit` and :func:`unit` take :data:`fastnn._config.SERIAL` or ``PARALLEL``;
with ``cache=True`` the kernel uses :class:`fastnn._cache.KernelCache`.
"""

import copy
import ctypes
import inspect
import pickle
import sys
import traceback
import uuid

import llvmlite.binding as llvm
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils, compiler, registry
from numba.core.typing.typeof import typeof_impl
from numba.extending import intrinsic

from . import _machine
from ._cache import KernelCache, start_threads

_UNITS = {}
_RESOLVER = "fastnn_unit_address"


_TUNED_CLASSES = {}
_SUBROUTINES = {}


def _tuned(context):
    """A copy of Numba's target ``context`` that gives each function it lowers the
    attributes of :func:`fastnn._machine.tune`, and keeps the helpers it compiles
    (Numba's implementations of ``np.exp``, ...) apart from those of other Numba code.

    Numba shares compiled helpers between all code of a process, keyed without the
    fastmath flags or the attributes: which code compiled a helper first would
    decide the instructions fastnn's kernels run.  Here they are kept per fastmath
    setting, for fastnn's kernels only.  The parallel loops' bodies are lowered
    through the same context, so they are tuned too.
    """
    base = type(context)
    cls = _TUNED_CLASSES.get(base)
    if cls is None:
        def post_lowering(self, module, library):
            _machine.tune(module)
            base.post_lowering(self, module, library)

        cls = _TUNED_CLASSES[base] = type(f"Tuned{base.__name__}", (base,), {"post_lowering": post_lowering})
    if type(context) is not cls:
        context = copy.copy(context)
        context.__class__ = cls
    fastmath = frozenset(getattr(context.fastmath, "flags", None) or ())
    context.cached_internal_func = _SUBROUTINES.setdefault(fastmath, {})
    return context


_OWN_COPY_CLASSES = {}
_LINKED = {llvm.Linkage.linkonce_odr, llvm.Linkage.weak_odr, llvm.Linkage.linkonce_any, llvm.Linkage.weak_any}


def _own_copies(library):
    """Make ``library`` (a Numba code library, not yet finalized) call its own copy
    of every function linked into it.

    Numba links a callee into its caller as ``linkonce_odr`` functions, weak symbols
    in the object code, and the JIT linker binds a weak symbol to the first
    definition of that name in the process: the callee's own library, when this
    process compiled it, whose code is not the copy optimized inside the caller and
    can round differently.  So a kernel compiled in a process ran other code than the
    same kernel loaded from the cache in the next one.  Renamed (uniquely) and made
    internal, the copies are the caller's own, whatever the process compiled or
    loaded before; nothing else can bind to them.
    """
    base = type(library)
    cls = _OWN_COPY_CLASSES.get(base)
    if cls is None:
        def _optimize_final_module(self):
            suffix = f".own.{uuid.uuid4().hex[:16]}"
            for fn in self._final_module.functions:
                if not fn.is_declaration and fn.linkage in _LINKED:
                    fn.name = fn.name + suffix
                    fn.linkage = llvm.Linkage.internal
            base._optimize_final_module(self)

        cls = _OWN_COPY_CLASSES[base] = type(f"OwnCopies{base.__name__}", (base,),
                                             {"_optimize_final_module": _optimize_final_module})
    library.__class__ = cls
    return library


class _Compiler(compiler.Compiler):
    """Numba's pipeline, lowering through :func:`_tuned` into a library of
    :func:`_own_copies`."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)
        self.state.targetctx = _tuned(self.state.targetctx)

    def _compile_core(self):
        if self.state.library is None:
            # what Numba's lowering pass would create, created here to be given its class
            library = self.state.targetctx.codegen().create_library(self.state.func_id.func_qualname)
            library.enable_object_caching()
            self.state.library = library
        _own_copies(self.state.library)
        return super()._compile_core()


class Kernel(registry.CPUDispatcher):
    """Numba's CPU dispatcher, compiling one variant per argument type, never one per
    constant: a call ``f(x, 0)`` from another kernel is typed ``f(array, int64)``,
    not ``f(array, Literal[int](0))``.  (Numba compiles a variant of its own for
    every literal a caller passes, a large part of fastnn's compile time.  Where a
    constant made the code faster, the kernel branches on the value
    once and inlines a copy for each: see the write-out of ``_micro_kernel``.)
    """

    def get_call_template(self, args, kws):
        args = tuple(types.unliteral(a) for a in args)
        kws = {name: types.unliteral(a) for name, a in kws.items()}
        return super().get_call_template(args, kws)


def jit(**options):
    """``numba.njit(**options)`` as a :class:`Kernel`, with fastnn's cache when
    ``options["cache"]``."""
    options = dict(options)
    cache = options.pop("cache", False)
    options["nopython"] = True
    # no kernel is passed as a first-class function: its C wrapper would be compiled
    # for nothing, in every cold process
    options.setdefault("no_cfunc_wrapper", True)

    def decorate(func):
        if numba.config.DISABLE_JIT:
            return func
        dispatcher = Kernel(func, targetoptions=options, pipeline_class=_Compiler)
        if cache:
            dispatcher._cache = KernelCache(dispatcher)
        return dispatcher

    return decorate


def unit(returns=None, **options):
    """Like :func:`jit`, but the kernel is a :class:`Unit`.

    ``returns``: the Numba type the kernel returns (``numba.types.none`` for none),
    when it does not depend on the arguments.  Such a unit is compiled (or loaded)
    on its first call, not when a kernel that calls it is compiled: a parallel
    kernel that a small network never reaches is never compiled.  Without it, the
    unit is compiled with its caller, to learn its return type.
    """
    def decorate(func):
        kernel = jit(**options)(func)
        return kernel if numba.config.DISABLE_JIT else Unit(kernel, returns)

    return decorate


def _unit_address(key, size):
    """The C callback behind every unit call site: the address of the unit's
    compiled code for the signature in ``key``, compiling or loading it; 0 (and the
    error printed) when that fails."""
    try:
        name, argtypes, restype = pickle.loads(ctypes.string_at(key, size))
        return _UNITS[name].address(argtypes, restype)
    except BaseException:  # an exception cannot cross into compiled code
        traceback.print_exc(file=sys.stderr)
        return 0


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(_unit_address)
llvm.add_symbol(_RESOLVER, ctypes.cast(_CALLBACK, ctypes.c_void_p).value)


class Unit:
    """A kernel called by address from other kernels (see the module docstring).

    Called from Python it is its dispatcher; ``unit.dispatcher`` is that dispatcher.
    """

    def __init__(self, dispatcher, returns=None):
        # a class of its own whose __call__ is the dispatcher: called from Python, a
        # unit costs what its dispatcher does (a method forwarding the call costs
        # one more Python call on every step of a small network)
        self.__class__ = type("Unit", (Unit,), {"__call__": staticmethod(dispatcher)})
        self.dispatcher = dispatcher
        self.returns = returns
        func = dispatcher.py_func
        self.name = f"{func.__module__}:{func.__qualname__}"
        self.__doc__, self.__name__, self.__module__ = func.__doc__, func.__name__, func.__module__
        self.__qualname__, self.__wrapped__ = func.__qualname__, func
        _UNITS[self.name] = self
        # an intrinsic with the kernel's own parameters, so that calls are typed
        # (and keywords folded) as for the kernel itself
        params = list(inspect.signature(func).parameters)
        source = (f"def call(typingctx, {', '.join(params)}):\n"
                  f"    return typed(({', '.join(params)}{',' if len(params) == 1 else ''}))\n")
        scope = {"typed": self._typed}
        exec(source, scope)
        self._call = intrinsic(scope["call"])
        self._numba_type = None

    def __getattr__(self, name):
        # the dispatcher's attributes (signatures, overloads, stats, py_func, ...)
        if name == "dispatcher":
            raise AttributeError(name)
        return getattr(self.dispatcher, name)

    @property
    def __fastnn_kernel__(self):
        # what fastnn._cache hashes for the kernels that call this one
        return self.dispatcher, repr(self.returns)

    def __repr__(self):
        return f"Unit({self.name})"

    def address(self, argtypes, restype):
        """The native entry point of the unit for ``argtypes``, compiled or loaded."""
        start_threads()
        self.dispatcher.compile(argtypes)
        cres = self.dispatcher.overloads[argtypes]
        if cres.signature.return_type != restype:
            raise RuntimeError(f"{self.name}{argtypes} returns {cres.signature.return_type}, "
                               f"its caller was compiled for {restype}")
        return cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)

    def _typed(self, args):
        argtypes = tuple(types.unliteral(a) for a in args)
        restype = self.returns
        if restype is None:
            start_threads()
            self.dispatcher.compile(argtypes)
            restype = self.dispatcher.overloads[argtypes].signature.return_type
        key = pickle.dumps((self.name, argtypes, restype))

        def codegen(context, builder, sig, llargs):
            fn = _load_address(builder, key)
            with cgutils.if_unlikely(builder, cgutils.is_null(builder, fn)):
                context.call_conv.return_user_exc(
                    builder, RuntimeError, (f"fastnn: {self.name} could not be compiled or loaded",))
            fnty = context.call_conv.get_function_type(sig.return_type, sig.args)
            status, result = context.call_conv.call_function(
                builder, builder.bitcast(fn, fnty.as_pointer()), sig.return_type, sig.args, llargs)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return result

        return restype(*argtypes), codegen


def _load_address(builder, key):
    """Emit: the address in this call site's slot, asked of the resolver first if
    the slot is still empty."""
    module = builder.module
    bytes_p = ir.IntType(8).as_pointer()
    slot = ir.GlobalVariable(module, bytes_p, name=module.get_unique_name("fastnn.unit.slot"))
    slot.linkage = "internal"
    slot.initializer = ir.Constant(bytes_p, None)
    with builder.if_then(cgutils.is_null(builder, builder.load_atomic(slot, "monotonic", 8)), likely=False):
        text = cgutils.global_constant(module, module.get_unique_name("fastnn.unit.key"),
                                       cgutils.make_bytearray(key))
        resolver_type = ir.FunctionType(bytes_p, [bytes_p, ir.IntType(64)])
        resolver = cgutils.get_or_insert_function(module, resolver_type, _RESOLVER)
        found = builder.call(resolver, [builder.bitcast(text, bytes_p), ir.Constant(ir.IntType(64), len(key))])
        builder.store_atomic(found, slot, "monotonic", 8)
    return builder.load_atomic(slot, "monotonic", 8)


@typeof_impl.register(Unit)
def _typeof_unit(value, context):
    if value._numba_type is None:
        typing = registry.cpu_target.typing_context
        typing.refresh()
        value._numba_type = typing.resolve_value_type(value._call)
    return value._numba_type
