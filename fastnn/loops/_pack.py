"""Packing for the GEMM of :mod:`fastnn.loops._gemm`: the tile sizes, and the copies
of A's rows and B's columns into contiguous, k-major, 64-byte aligned, zero-padded
panels (see the design notes of :mod:`fastnn.loops._gemm`).

The copies that move blocks through registers (``_transpose8``, ``_copy_panels8``)
are emitted as LLVM IR; every sum of the formulas is still a loop, in ``_gemm``.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .. import _machine
from .._config import SERIAL
from .._jit import jit

# Tile sizes per dtype, derived from the machine's vector width, register count and
# cache sizes by the rule written in fastnn._machine (MR x NR accumulators in 3/4 of
# the vector registers, NR >= 48; an A micro-panel MR x KC in a quarter of L1; a packed
# B block KC x NC in 3/8 of L2).
MR32, NR32, KC32, NC32 = _machine.tiles(4)
MR64, NR64, KC64, NC64 = _machine.tiles(8)


@intrinsic
def _tiles(typingctx, like):
    """(MR, NR, KC, NC) for like.dtype, as LLVM constants (so loops over MR/NR
    have constant trip counts and can be fully unrolled/vectorised)."""
    if like.dtype == types.float32:
        vals = (MR32, NR32, KC32, NC32)
    else:
        vals = (MR64, NR64, KC64, NC64)
    rt = types.UniTuple(types.intp, 4)

    def codegen(context, builder, sig, args):
        consts = [context.get_constant(types.intp, v) for v in vals]
        return context.make_tuple(builder, rt, consts)
    return rt(like), codegen


def _alloca_codegen(dt, n):
    def codegen(context, builder, sig, args):
        llty = context.get_value_type(dt)
        with builder.goto_entry_block():
            ptr = builder.alloca(ir.ArrayType(llty, n))
            ptr.align = 64
        zero = ir.Constant(ir.IntType(32), 0)
        return builder.gep(ptr, [zero, zero])
    return codegen


@intrinsic
def _stack_tile(typingctx, like):
    """Pointer to an MR*NR accumulator tile on the stack: an alloca in the entry
    block of the calling function, 64-byte aligned.  Because it never escapes,
    LLVM's SROA/LICM promote it to registers; a heap array (np.empty) is not
    promoted (LLVM can't prove it doesn't alias the operands)."""
    n = MR32 * NR32 if like.dtype == types.float32 else MR64 * NR64
    return types.CPointer(like.dtype)(like), _alloca_codegen(like.dtype, n)


def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), len(mask)), mask))


def _lowered_args(context, builder, sig, args):
    """An intrinsic's arguments as LLVM values: an array's data pointer, an
    integer as intp."""
    return [context.make_array(t)(context, builder, v).data if isinstance(t, types.Array)
            else context.cast(builder, v, t, types.intp) for v, t in zip(args, sig.args)]


def _vector_at(context, builder, data, base, stride, i, vector_ty):
    """Pointer to a vector at element ``base + stride * i`` of ``data``."""
    offset = builder.add(base, builder.mul(stride, context.get_constant(types.intp, i)))
    return builder.bitcast(builder.gep(data, [offset]), vector_ty.as_pointer())


@intrinsic
def _transpose8(typingctx, dst, d, src, s, ld, W):
    """Copy an 8 x 8 block transposed: ``dst[d + k*W + i] = src[s + i*ld + k]`` for
    i, k in 0..7 (1-D arrays, indices unchecked).

    Eight vector loads (a row of 8 consecutive k each), the classic three rounds of
    two-input shuffles (interleave single elements, then pairs, then quadruples),
    eight vector stores (8 rows' values for one k each).  The same 8 x 8 copy as
    plain loops with constant trip counts ran no faster than the scalar copy it
    replaces: LLVM does not find the shuffles.  These halve the time of a
    transposing B pack in float32 (docs/design-notes.md)."""
    sig = types.void(dst, d, src, s, ld, W)

    def codegen(context, builder, sig, args):
        dst_data, d, src_data, s, ld, w = _lowered_args(context, builder, sig, args)
        vector_ty = ir.VectorType(context.get_value_type(src.dtype), 8)
        align = src.dtype.bitwidth // 8

        def at(data, base, stride, i):
            return _vector_at(context, builder, data, base, stride, i, vector_ty)

        rows = []
        for i in range(8):
            load = builder.load(at(src_data, s, ld, i))
            load.align = align
            rows.append(load)
        # rows 2p, 2p+1 -> (r0 s0 r1 s1 | r4 s4 r5 s5), (r2 s2 r3 s3 | r6 s6 r7 s7)
        one = []
        for p in range(0, 8, 2):
            one.append(_shuffle(builder, rows[p], rows[p + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
            one.append(_shuffle(builder, rows[p], rows[p + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
        # -> two[q + c]: column c of rows q..q+3 | column c + 4 of the same rows
        two = [None] * 8
        for q in (0, 4):
            for h in (0, 1):
                a, b = one[q + h], one[q + 2 + h]
                two[q + 2 * h] = _shuffle(builder, a, b, [0, 1, 8, 9, 4, 5, 12, 13])
                two[q + 2 * h + 1] = _shuffle(builder, a, b, [2, 3, 10, 11, 6, 7, 14, 15])
        for c in range(4):
            for k, mask in ((c, [0, 1, 2, 3, 8, 9, 10, 11]), (c + 4, [4, 5, 6, 7, 12, 13, 14, 15])):
                store = builder.store(_shuffle(builder, two[c], two[4 + c], mask), at(dst_data, d, w, k))
                store.align = align
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _copy_panels8(typingctx, dst, d, dstride, src, s):
    """Copy 8*MR consecutive elements as 8 runs of MR: ``dst[d + q*dstride + i] =
    src[s + q*MR + i]`` for q in 0..7, i in 0..MR-1 (1-D arrays, indices unchecked).

    One source row's share of 8 A panels (``_pack_copy_narrow``): a vector load of
    the 48 (float32) or 32 (float64) elements, then 8 stores of MR.  Each source row
    is read once for 8 panels; a panel at a time, its cache lines were read again
    for the next panel, and rows 4 KiB apart (1024 float32 columns) evict each
    other from L1 in between."""
    sig = types.void(dst, d, dstride, src, s)
    n = MR32 if src.dtype == types.float32 else MR64

    def codegen(context, builder, sig, args):
        dst_data, d, ds, src_data, s = _lowered_args(context, builder, sig, args)
        elt = context.get_value_type(src.dtype)
        align = src.dtype.bitwidth // 8
        row_ty = ir.VectorType(elt, 8 * n)
        row = builder.load(_vector_at(context, builder, src_data, s, ds, 0, row_ty))
        row.align = align
        for q in range(8):
            run = _shuffle(builder, row, ir.Constant(row_ty, None), list(range(q * n, q * n + n)))
            store = builder.store(run, _vector_at(context, builder, dst_data, d, ds, q, run.type))
            store.align = align
        return context.get_dummy_value()

    return sig, codegen


@jit(**SERIAL)
def _u(i):
    """i as an unsigned index: Numba then needs no negative-index wraparound
    select, which otherwise keeps LLVM from vectorising flat-indexed copies."""
    return types.uint64(i)


@jit(**SERIAL)
def _aligned_empty(n, like):
    """1-D uninitialised buffer of n elements whose data is 64-byte aligned.
    Numba's np.empty only guarantees 32 bytes (NumPy's: 16), so over-allocate one
    cache line and slice at the first 64-byte boundary."""
    isz = like.itemsize
    raw = np.empty(n + 64 // isz, like.dtype)
    off = ((64 - raw.ctypes.data % 64) % 64) // isz
    return raw[off:off + n]


@jit(**SERIAL)
def _pack_copy(src, r0, nrows, k0, kc, W, buf):
    """Pack A or B when the source is already k-major: op(src)[r, k] = src[k, r]
        buf[p*W*kc + k*W + i] = src[k0 + k, r0 + p*W + i]   (0 beyond nrows)
    (B = w in forward, B = dy and A = x^T in the TN products): a plain copy of
    W contiguous elements per k.  Zero padding -> every micro call is a full tile."""
    MR, _, _, _ = _tiles(src)
    if W == MR:
        _pack_copy_narrow(src, r0, nrows, k0, kc, buf)
        return
    # B panels (W = NR): flat unsigned indices, a run-time length.  Unsigned, an
    # index needs no negative-index wraparound select (1-D views per k, the other
    # way to avoid it, cost more in their set-up); a 2-D source block made LLVM use
    # vgather, and a constant length (NR) made it unroll the loop into scalar moves
    # (docs/design-notes.md).
    flat = src.reshape(src.size)
    ld = _u(src.shape[1])
    npan = (nrows + W - 1) // W
    for p in range(npan):
        rows = _u(min(W, nrows - p * W))
        d0 = _u(p * W * kc)
        s0 = _u(k0) * ld + _u(r0 + p * W)
        for k in range(_u(kc)):
            d = d0 + k * _u(W)
            s = s0 + k * ld
            for i in range(rows):
                buf[d + i] = flat[s + i]
            for i in range(rows, _u(W)):
                buf[d + i] = 0


@jit(**SERIAL)
def _pack_copy_narrow(src, r0, nrows, k0, kc, buf):
    """_pack_copy for A panels (W = MR), A = xᵀ in the weight gradient: panels in
    groups of 8, each k row's 8*MR elements copied at once (``_copy_panels8``); the
    other panels MR elements per k, a copy LLVM unrolls into scalar moves when MR is
    a constant (with a run-time W, the loop set-up cost more than the copy).  The
    groups are faster than a panel at a time (docs/design-notes.md)."""
    MR, _, _, _ = _tiles(src)
    npan = (nrows + MR - 1) // MR
    flat = src.reshape(src.size)
    ld = _u(src.shape[1])
    groups = nrows // (8 * MR)
    for g in range(groups):
        d0 = _u(g * 8 * MR * kc)
        s0 = _u(k0) * ld + _u(r0 + g * 8 * MR)
        for k in range(_u(kc)):
            _copy_panels8(buf, d0 + k * _u(MR), _u(MR * kc), flat, s0 + k * ld)
    for p in range(groups * 8, npan):
        dst = buf[p * MR * kc:(p + 1) * MR * kc]
        rows = min(MR, nrows - p * MR)
        rp = r0 + p * MR
        if rows == MR:
            blk = src[k0:k0 + kc, rp:rp + MR]
            for k in range(kc):
                d = dst[k * MR:(k + 1) * MR]
                for i in range(MR):
                    d[i] = blk[k, i]
        else:
            for k in range(kc):
                d = dst[k * MR:(k + 1) * MR]
                s = src[k0 + k, rp:rp + rows]
                for i in range(MR):
                    d[i] = s[i] if i < rows else 0


@jit(**SERIAL)
def _pack_transpose(src, r0, nrows, k0, kc, W, buf):
    """Pack A or B when the source is row-major in k: op(src)[r, k] = src[r, k]
        buf[p*W*kc + k*W + i] = src[r0 + p*W + i, k0 + k]   (0 beyond nrows)
    (A = x in forward, A = dy and B = w^T in backward_input): a transposing copy.
    B panels (W = NR) in groups of 8 rows, so that 8 source rows are read as
    sequential streams: 8 x 8 blocks transposed in registers (``_transpose8``),
    then the last kc % 8 columns one k at a time: faster in float32 than the same
    order as scalar copies, than a row at a time written with stride W, and than
    groups of 16 or of all W rows (which LLVM turns into vgather); about the same in
    float64 (docs/design-notes.md).  A panels: _pack_transpose_narrow."""
    MR, _, _, _ = _tiles(src)
    if W == MR:
        _pack_transpose_narrow(src, r0, nrows, k0, kc, buf)
        return
    flat = src.reshape(src.size)
    ld = _u(src.shape[1])
    kc8 = _u(kc // 8 * 8)
    npan = (nrows + W - 1) // W
    for p in range(npan):
        rows = min(W, nrows - p * W)
        for g in range(0, W, 8):
            d0 = _u(p * W * kc + g)
            s0 = _u(r0 + p * W + g) * ld + _u(k0)
            if g + 8 <= rows:
                for k in range(0, kc8, _u(8)):
                    _transpose8(buf, d0 + k * _u(W), flat, s0 + k, ld, _u(W))
                for k in range(kc8, _u(kc)):
                    d = d0 + k * _u(W)
                    for i in range(_u(8)):
                        buf[d + i] = flat[s0 + i * ld + k]
            else:
                left = _u(max(0, rows - g))
                for k in range(_u(kc)):
                    d = d0 + k * _u(W)
                    for i in range(_u(8)):
                        buf[d + i] = flat[s0 + i * ld + k] if i < left else 0


@jit(**SERIAL)
def _pack_transpose_narrow(src, r0, nrows, k0, kc, buf):
    """_pack_transpose for A panels (W = MR): k outer, the MR rows inner, so the
    panel is written contiguously while MR source rows are read as MR sequential
    streams; with MR a constant LLVM unrolls the rows.  Faster than reading a row at
    a time and writing with stride MR (docs/design-notes.md)."""
    MR, _, _, _ = _tiles(src)
    flat = src.reshape(src.size)
    ld = _u(src.shape[1])
    npan = (nrows + MR - 1) // MR
    for p in range(npan):
        rows = min(MR, nrows - p * MR)
        d0 = _u(p * MR * kc)
        s0 = _u(r0 + p * MR) * ld + _u(k0)
        if rows == MR:
            for k in range(_u(kc)):
                d = d0 + k * _u(MR)
                for i in range(_u(MR)):
                    buf[d + i] = flat[s0 + i * ld + k]
        else:
            for k in range(_u(kc)):
                d = d0 + k * _u(MR)
                for i in range(_u(MR)):
                    buf[d + i] = flat[s0 + i * ld + k] if i < _u(rows) else 0
