"""Array views for the loop kernels: without Numba's reshape helper, and without
reference counting.

Every array a compiled kernel passes to another costs an atomic increment and
decrement of its memory's reference count (Numba's reference counting); for the
small layers of a network, those were more than half of a training step.  A kernel
whose caller holds its arrays for the whole call takes them through
:func:`_unowned` on entry, and passes only unowned arrays on.
"""

from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


@intrinsic
def _rows(typingctx, flat, off, n, width):
    """``flat[off:off + n * width].reshape((n, width))`` (a view, holding a reference
    where ``flat`` does), without the call to Numba's reshape helper."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1):
        return None
    rows_type = types.Array(flat.dtype, 2, "C")

    def codegen(context, builder, sig, args):
        flat_value, off_value, n_value, width_value = args
        source = context.make_array(sig.args[0])(context, builder, flat_value)
        view = context.make_array(rows_type)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(flat.dtype)))
        populate_array(view, data=builder.gep(source.data, [off_value]), shape=[n_value, width_value],
                       strides=[builder.mul(width_value, itemsize), itemsize], itemsize=itemsize,
                       meminfo=source.meminfo)
        return impl_ret_borrowed(context, builder, rows_type, view._getvalue())

    return rows_type(flat, types.intp, types.intp, types.intp), codegen


@intrinsic
def _unowned(typingctx, a):
    """The array ``a`` holding no reference to its memory, nor do the views taken of it:
    for arrays that the caller holds for the whole call (see the module docstring).
    Never return one to Python, nor keep one past the call.
    """
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, sig, args):
        array = context.make_array(a)(context, builder, args[0])
        array.meminfo = cgutils.get_null_value(array.meminfo.type)
        array.parent = cgutils.get_null_value(array.parent.type)
        return array._getvalue()

    return a(a), codegen
