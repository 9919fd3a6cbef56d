"""Dense layer, loop form: the per-neuron sums of FORMULAS.md as Numba loops.

forward          y[n, j]  = Σ_i x[n, i] · w[i, j] + b[j]
input gradient   dx[n, i] = Σ_j w[i, j] · dy[n, j]
weight gradient  dw[i, j] = Σ_n x[n, i] · dy[n, j],   db[j] = Σ_n dy[n, j]
fused SGD update w[i, j] ← w[i, j] − lr · Σ_n x[n, i] · dy[n, j],   b[j] ← b[j] − lr · Σ_n dy[n, j]

Design
------
Each of the three weight sums is one product C = op(A) · op(B) of the same shape:

    kernel             C (M x N)           A (M x K)   B (K x N)   sum over
    forward            y  (n x n_out)      x           w           i (K = n_in)
    input gradient     dx (n x n_in)       dy          wᵀ          j (K = n_out)
    weight gradient    dw (n_in x n_out)   xᵀ          dy          n (K = n)
    fused update       w  (n_in x n_out)   xᵀ          dy          n, then − lr ·

Small problems (below :data:`DIRECT_MAX_FLOPS` multiply-adds) run the sums as
written, row by row (``_direct_*``): nothing to allocate, nothing to pack.  (They are
units, see :mod:`fastnn._jit`: a network with no small layer never compiles them.)
Larger ones run one register-blocked kernel for all four (the GotoBLAS/BLIS scheme):

- **Micro-kernel.** An MR x NR block of C lives in three quarters of the vector
  registers (:func:`fastnn._machine.tiles`; with AVX-512, 24 zmm registers: float32
  6 rows x 64 columns = 4 vectors per row, float64 4 x 48 = 6 vectors) while it sums
  ``acc[i, j] += A[i, k] · B[k, j]`` over k: each k broadcasts MR scalars of A and
  loads NR/16 (NR/8) vectors of B for MR·NR/16 (/8) FMAs, so the loop is bound by the FMA units,
  not by loads.  Loop order k → i → j: j innermost and contiguous (vectorized), and
  every element is one sequential FMA chain over k, with no horizontal sums.
- **Packing.** A's rows and B's columns are copied into contiguous k-major panels
  (``_pack_copy`` where the source is already k-major, ``_pack_transpose`` where it
  is not: x in forward, dy and wᵀ in the input gradient), 64-byte aligned and zero
  padded, so the micro-kernel reads unit-stride, full tiles whatever the operand's
  layout.  This is how the transposed operands of the backward pass run as fast as
  the forward product.  The transposing copy of B moves 8 x 8 blocks through
  registers (``_transpose8``: eight vector loads, shuffles, eight stores, emitted
  as LLVM IR because the same copy as loops ran no faster); it made the float32
  input gradient 3-8% faster.  The copy of A = xᵀ in the weight gradient takes
  the elements of 8 panels from each row of x at once (``_copy_panels8``), which
  made the float32 weight gradient 3-6% faster at the training shapes.  Only
  packing uses these: every sum of the formulas is still a loop.  Packing is
  about 7% of a (128, 784, 256) forward product on one core.  (The faster packing
  copies cost compile time: LLVM unrolls and vectorizes them in every GEMM
  instance, and a cold compile of ``_dense_forward`` went from about 12.5 to 19 s;
  ``_copy_panels8`` added about 1 s to that of the weight gradient.)  Packing the
  operand that all blocks share once, by all threads (one parallel pack, then the
  products), was measured no faster than each block packing its own copy: reading
  the half packed by the other core cost as much.
- **Cache blocking.** k in blocks of about KC (an A micro-panel, MR x KC, stays in
  a quarter of L1; K is cut into equal blocks, so there is no short last one),
  columns in blocks of NC (a packed B block, KC x NC, stays in 3/8 of L2).  Partial sums of
  successive k blocks are added into C in increasing k.  Measured no faster, in
  interleaved runs: the GotoBLAS order (k blocks outside the column blocks, one
  packed slice of A at a time), other KC and NC (on Zen 4 and on a Xeon: the
  machine rule against the sizes tuned by hand there), and software prefetch of the
  B micro-panel or of the C tile.
- **Narrow C.** When C has fewer columns than a tile (n_out = 10), Cᵀ = op(B)ᵀ op(A)ᵀ
  is computed instead, written into c transposed (see ``_gemm``).
- **Parallel split, race-free by ownership.** Above :data:`PARALLEL_MIN_FLOPS`, C is
  split into 2 to 16 blocks of at least 512 rows (``_split``), or of columns when
  that packs less (except for an input gradient of 512 rows or more) or C has few
  rows.  A prange iteration packs its own A rows and B copy and writes only its
  block of C: samples n for y and dx, input rows i for dw and w (or a range of
  columns of those).  No shared ``+=``, no prange reduction; the bias sums run
  serially.
- **Deterministic.** An element's summation order depends only on K (and the dtype's
  KC): not on the block that holds it, nor on the thread count, nor on serial vs
  parallel (both call ``_gemm_block``).  Results are bitwise identical for any
  thread count; which path runs (direct, GEMM, orientation, split) depends on the
  size only.
- **The fused update** completes Σ_n before scaling: with several k blocks the
  partial sums go to a private buffer and the last block subtracts lr · (sum).

Measured pitfalls that shaped the code: index expressions like ``buf[off + k * NR +
j]`` make Numba emit a negative-index check that LLVM turns into gathers (15x slower),
so every loop indexes a view starting at its offset, or (in the packing copies,
where making views cost more than the copy) uses unsigned indices, which need no
check; a j loop shorter than 48 gets fully unrolled before vectorization (again
gathers), hence NR >= 48; the accumulator must be a stack tile (``_stack_tile``),
which LLVM keeps in registers, not a heap array.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from .. import _checks, _machine
from .._config import PARALLEL, PARALLEL_MIN_FLOPS, SERIAL
from .._jit import jit, unit
from ._views import _unowned

__all__ = ["dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update"]

ROWS_PER_BLOCK = 512
"""Rows (or columns) of C per parallel block, when C has enough (see ``_split``)."""

ROWS_MIN = 32
"""C is split by rows only if each of two blocks gets at least this many."""

DIRECT_MAX_FLOPS = 1 << 14
"""Below this many multiply-adds a dense kernel runs the plain loops: packing and
its allocations would cost more than the arithmetic (a 3-1-2 network's step must
stay within about 2 microseconds)."""

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
    replaces (0.35-0.50 ns/element): LLVM does not find the shuffles.  These halve
    the time of a transposing B pack in float32 (0.40 to 0.21 ns/element, blocks
    of a (1024, 1024) w)."""
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


# write-out modes of the micro-kernel
MODE_STORE = 0      # C  = A.B
MODE_BIAS = 1       # C  = bias + A.B
MODE_SGD = 2        # C -= lr * (A.B)   (C is the weight matrix; sum over k first)


@jit(**SERIAL)
def _micro_kernel(ap, bp, kc, c, trans, r, cc, mr, nr, mode, first, last, bias, part, pc, lr):
    """One MR x NR register block of C = A.B over one k block, then write-out.

    ap[k*MR + i] = A[r+i, k0+k]   (A micro-panel, k-major: MR scalars per k)
    bp[k*NR + j] = B[k0+k, cc+j]  (B micro-panel, k-major: NR contiguous per k)
    Loop order k -> i -> j: for each k, broadcast A[i, k] and FMA it into the
    NR-wide row i of the accumulator (vectorised over j: NR / lanes vectors):
    acc[i, j] += A[i, k] * B[k, j].
    acc is a stack tile that LLVM keeps entirely in registers across the k loop
    (verified in the assembly); each element is one sequential FMA chain.
    Indices are relative to views (ap, bp, rows of c) so they are provably >= 0:
    with base+offset indices Numba's negative-index wraparound select made LLVM
    emit vgather/vscatter instead of unit-stride loads (4x slower).

    Write-out of the valid mr x nr corner (k-block partial sums are added to C in
    increasing k order):
      first k block: C = acc (+ bias[j]);  later blocks: C += acc
      MODE_SGD: the sum over k (the batch) is completed before scaling by lr:
      single k block: C -= lr*acc; else partial sums go to `part` (private to the
      row block) and the last block does C -= lr*(part + acc).
    """
    MR, NR, _, _ = _tiles(ap)
    acc = numba.carray(_stack_tile(ap), (MR, NR))
    for i in range(MR):
        for j in range(NR):
            acc[i, j] = 0
    for k in range(kc):
        for i in range(MR):
            a_ik = ap[k * MR + i]
            for j in range(NR):
                acc[i, j] += a_ik * bp[k * NR + j]

    # The write-out is inlined (Numba IR), once per mode, each with its mode as a
    # constant: with the mode a run-time value inside the row loop, the weight and
    # input gradients at (32, 64, 128) and (32, 128, 10) ran 16-40% slower.  A
    # transposed C (see _gemm) is written through a strided column of c, in
    # MODE_STORE or MODE_SGD only (a bias is added after the product).
    if trans and mode == MODE_STORE:
        for i in range(mr):
            _write_out(c[cc:cc + nr, r + i], acc[i], nr, MODE_STORE, first, last, bias, cc, part, i, pc, lr)
    elif trans:
        for i in range(mr):
            _write_out(c[cc:cc + nr, r + i], acc[i], nr, MODE_SGD, first, last, bias, cc, part, i, pc, lr)
    elif mode == MODE_STORE:
        for i in range(mr):
            _write_out(c[r + i, cc:cc + nr], acc[i], nr, MODE_STORE, first, last, bias, cc, part, i, pc, lr)
    elif mode == MODE_BIAS:
        for i in range(mr):
            _write_out(c[r + i, cc:cc + nr], acc[i], nr, MODE_BIAS, first, last, bias, cc, part, i, pc, lr)
    else:
        for i in range(mr):
            _write_out(c[r + i, cc:cc + nr], acc[i], nr, MODE_SGD, first, last, bias, cc, part, i, pc, lr)


@jit(inline="always", **SERIAL)
def _write_out(crow, t, nr, mode, first, last, bias, cc, part, i, pc, lr):
    """Write the nr sums t of row i of a tile into crow (see _micro_kernel)."""
    if mode == MODE_SGD:
        if first and last:
            for j in range(nr):
                crow[j] -= lr * t[j]
            return
        prow = part[i, pc:pc + nr]
        if first:
            for j in range(nr):
                prow[j] = t[j]
        elif not last:
            for j in range(nr):
                prow[j] += t[j]
        else:
            for j in range(nr):
                crow[j] -= lr * (prow[j] + t[j])
    elif first:
        if mode == MODE_BIAS:
            bseg = bias[cc:cc + nr]
            for j in range(nr):
                crow[j] = bseg[j] + t[j]
        else:
            for j in range(nr):
                crow[j] = t[j]
    else:
        for j in range(nr):
            crow[j] += t[j]


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
    # way to avoid it, cost 1.4x more in their set-up); a 2-D source block made
    # LLVM use vgather, and a constant length (NR) made it unroll the loop into
    # scalar moves: both 2.4x slower.
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
    a constant (with a run-time W, the loop set-up cost more than the copy: 3-5x
    slower).  Float32, 128 rows of a (128, 784) x: 0.13 ns/element in groups, 0.29
    a panel at a time; 512 rows of 1024 columns: 0.22 against 0.34."""
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
    then the last kc % 8 columns one k at a time.  Float32, blocks of a (1024, 1024)
    w: 0.17-0.24 ns/element, against 0.30-0.40 for the same order as scalar copies
    (0.39 reading a row at a time and writing with stride W, 0.78 for groups of 16,
    2.8 for all W rows, which LLVM turns into vgather); float64 about 0.3 either
    way.  A panels: _pack_transpose_narrow."""
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
    streams; with MR a constant LLVM unrolls the rows.  0.15 ns/element, 2x
    faster than reading a row at a time and writing with stride MR."""
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


@unit(returns=types.none, **SERIAL)
def _gemm_block(a, a_kmajor, b, b_kmajor, m0, m1, n0, n1, K, mode, c, trans, bias, lr, KC, NC):
    """Block [m0, m1) x [n0, n1) of C, C = op(A) . op(B) (see _pack_copy, _pack_transpose).
    This is the unit of work owned by one prange iteration; the serial path calls
    it too (with the whole of C), so every element is summed in the same order
    either way.  It allocates the packing buffers; :func:`_gemm_tiles` runs the loops."""
    MR, NR, _, _ = _tiles(a)
    mrows = m1 - m0
    if mrows <= 0 or n1 <= n0:
        return
    npan_a = (mrows + MR - 1) // MR
    # k blocks of equal length near KC (784 = 2 x 392, not 384 + 384 + 16): a short
    # last block costs a whole write-out pass over C for little arithmetic
    nkb = max(1, (K + KC // 2) // KC)
    KC = (K + nkb - 1) // nkb
    nkb = (K + KC - 1) // KC
    kc_max = KC
    nc_max = min(NC, n1 - n0)
    nc_pad = (nc_max + NR - 1) // NR * NR
    a_blk = npan_a * MR * kc_max                       # stride of a k block in ap
    ap = _aligned_empty(nkb * a_blk, a)
    bp = _aligned_empty(kc_max * nc_pad, a)
    if mode == MODE_SGD and nkb > 1:
        part = np.empty((mrows, nc_max), a.dtype)      # partial sums over k
    else:
        part = np.empty((0, 0), a.dtype)
    _gemm_tiles(a, a_kmajor, b, b_kmajor, m0, m1, n0, n1, K, mode, c, trans, bias, lr, KC, NC,
                nkb, a_blk, ap, bp, part)


@jit(**SERIAL)
def _gemm_tiles(a, a_kmajor, b, b_kmajor, m0, m1, n0, n1, K, mode, c, trans, bias, lr, KC, NC,
                nkb, a_blk, ap, bp, part):
    """The loops of :func:`_gemm_block`, on the packing buffers it allocated (``ap``,
    ``bp``, ``part``); every array is held by the caller for the call, so none is
    reference counted here (:func:`._views._unowned`): a small product makes dozens
    of micro-kernel calls.

    Loop nest: pack all of A[m0:m1, :] once (k-block kb, MR-row panel ip), then
      j0 (NC columns from n0) -> k0 (KC) -> pack B block -> ip (A micro-panel in L1)
        -> jp (B micro-panels streamed from the L2-resident B block) -> micro."""
    a, b, c, bias = _unowned(a), _unowned(b), _unowned(c), _unowned(bias)
    ap, bp, part = _unowned(ap), _unowned(bp), _unowned(part)
    MR, NR, _, _ = _tiles(a)
    mrows = m1 - m0
    npan_a = (mrows + MR - 1) // MR
    for kb in range(nkb):
        k0 = kb * KC
        kc = min(KC, K - k0)
        # (the choice of copy inline, not in a function of its own: compiled alone,
        # that function and its four copies were optimized once more for nothing)
        if a_kmajor:
            _pack_copy(a, m0, mrows, k0, kc, MR, ap[kb * a_blk:(kb + 1) * a_blk])
        else:
            _pack_transpose(a, m0, mrows, k0, kc, MR, ap[kb * a_blk:(kb + 1) * a_blk])

    for j0 in range(n0, n1, NC):
        nc = min(NC, n1 - j0)
        npan_b = (nc + NR - 1) // NR
        for kb in range(nkb):
            k0 = kb * KC
            kc = min(KC, K - k0)
            if b_kmajor:
                _pack_copy(b, j0, nc, k0, kc, NR, bp)
            else:
                _pack_transpose(b, j0, nc, k0, kc, NR, bp)
            apk = ap[kb * a_blk:(kb + 1) * a_blk]
            for ip in range(npan_a):
                r = m0 + ip * MR
                mr = min(MR, m1 - r)
                ap_i = apk[ip * MR * kc:(ip + 1) * MR * kc]
                part_i = part[ip * MR:(ip + 1) * MR]
                for jp in range(npan_b):
                    cc = j0 + jp * NR
                    _micro_kernel(ap_i, bp[jp * NR * kc:(jp + 1) * NR * kc], kc,
                                  c, trans, r, cc, mr, min(NR, j0 + nc - cc), mode,
                                  kb == 0, kb == nkb - 1, bias, part_i, jp * NR, lr)


@jit(**SERIAL)
def _split(M, N, K, b_transposed, like):
    """How to share C among threads: (number of blocks, split by rows?).

    From the size only: 1 block (the serial path) below :data:`PARALLEL_MIN_FLOPS`;
    else 2, 4, 8 or 16 blocks of at least :data:`ROWS_PER_BLOCK` rows (2 blocks
    for fewer rows); or of columns, when that packs less (below) or C has too few
    rows for two blocks of :data:`ROWS_MIN` (a narrow layer computed as Cᵀ).
    Every block packs its own copy of the operand it shares with the others (B for
    a row split): about 7/rows of the block's arithmetic, 1.5% for 512 rows.  So
    blocks stay large, and 2 blocks serve a problem that is parallel only because
    it is wide.  (The number of blocks does not depend on the number of threads,
    and no element's summation order depends on the split: results are the same
    whatever the number of threads.)"""
    MR, NR, _, _ = _tiles(like)
    if M * N * K < PARALLEL_MIN_FLOPS:
        return 1, True
    rows_ok = M >= 2 * ROWS_MIN
    cols_ok = N >= 2 * NR
    if rows_ok and cols_ok:
        # by rows, each block copies all of B (K x N), by columns all of A (M x K).
        # Per element, packing A costs about twice a B copy, and a transposing B
        # pack (wᵀ in the input gradient) three times: split the way that copies less.
        # (Weights measured before the transposing pack moved 8 x 8 blocks; it now
        # costs 1.3-1.7 copies.)  But with ROWS_PER_BLOCK rows or more, the input
        # gradient is split by rows whatever it copies: by columns, every block
        # packs and re-reads all of A, 8 MiB (float32) or 16 MiB (float64) at
        # (1024, 2048, 2048), two such blocks at a time, as much as the L3 cache.
        # Rows measured 2.5-3% faster at (512, 1024, 1024) and 4-9% at (1024,
        # 2048, 2048); with 128 rows, as at (128, 784, 256), columns stay 1-9% faster.
        b_cost = 3 if b_transposed else 1
        rows_ok = b_cost * N <= 2 * M or (b_transposed and M >= ROWS_PER_BLOCK)
        cols_ok = not rows_ok
    if rows_ok:
        return _power_of_two_blocks(M), True
    if cols_ok:
        return _power_of_two_blocks(N), False
    return 1, True


@jit(**SERIAL)
def _power_of_two_blocks(size):
    """2, 4, 8 or 16 blocks of at least ROWS_PER_BLOCK (but 2 for any smaller size):
    a power of two shares evenly among 2, 4, 8 or 16 threads (3 blocks on 2 threads
    leave one thread idle a third of the time)."""
    nblk = 2
    while nblk < 16 and size >= 2 * nblk * ROWS_PER_BLOCK:
        nblk *= 2
    return nblk


@jit(**SERIAL)
def _block_bounds(size, nblk, p, unit):
    """Range [lo, hi) of block p of nblk: equal shares rounded to multiples of unit."""
    npan = (size + unit - 1) // unit
    per = (npan + nblk - 1) // nblk
    return min(p * per * unit, size), min((p + 1) * per * unit, size)


@unit(returns=types.none, **PARALLEL)
def _gemm_par(a, a_kmajor, b, b_kmajor, M, N, K, mode, c, trans, bias, lr, nblk, by_rows, KC, NC):
    # Iteration p owns a block of rows (or of columns) of c -> disjoint writes, no
    # reductions; for MODE_SGD, the rows or columns of w it owns.
    MR, NR, _, _ = _tiles(a)
    for p in prange(nblk):
        if by_rows:
            m0, m1 = _block_bounds(M, nblk, p, MR)
            n0, n1 = 0, N
        else:
            m0, m1 = 0, M
            n0, n1 = _block_bounds(N, nblk, p, NR)
        _gemm_block(a, a_kmajor, b, b_kmajor, m0, m1, n0, n1, K, mode, c, trans, bias, lr, KC, NC)


@jit(**SERIAL)
def _padded_work(M, N, MR, NR):
    return (M + MR - 1) // MR * MR * ((N + NR - 1) // NR * NR)


@unit(returns=types.none, **SERIAL)
def _gemm(a, a_kmajor, b, b_kmajor, M, N, K, mode, c, bias, lr):
    """C = op(A) . op(B) written out by ``mode``: serially, or split into blocks.

    A narrow C (fewer columns than NR, e.g. a 10-class output layer) would fill only
    N of the NR columns of each tile; when the other orientation saves at least a
    quarter of the padded work, compute Cᵀ = op(B)ᵀ . op(A)ᵀ instead: the packing
    routines already read either operand in either layout, so this swaps the
    operands and writes each tile row into a column of c.  (For y = x.w with
    n_out = 10: 84% of the work is padding one way, 17% the other.)  Those writes
    are strided, so a small saving is not worth it: for dx = dy.wᵀ at (512, 1024, 10) the two
    orientations differ by 0.6% and the transposed one was 7x slower."""
    MR, NR, KC, NC = _tiles(a)
    trans = 4 * _padded_work(N, M, MR, NR) <= 3 * _padded_work(M, N, MR, NR)
    # C = op(P) . op(Q), rows x cols, into c, or with trans into cᵀ
    if trans:
        p, p_kmajor, q, q_kmajor, rows, cols = b, b_kmajor, a, a_kmajor, N, M
    else:
        p, p_kmajor, q, q_kmajor, rows, cols = a, a_kmajor, b, b_kmajor, M, N
    bias_later = trans and mode == MODE_BIAS
    mode_now = MODE_STORE if bias_later else mode
    nblk, by_rows = _split(rows, cols, K, not q_kmajor, a)
    if nblk == 1:
        _gemm_block(p, p_kmajor, q, q_kmajor, 0, rows, 0, cols, K, mode_now, c, trans, bias, lr, KC, NC)
    else:
        _gemm_par(p, p_kmajor, q, q_kmajor, rows, cols, K, mode_now, c, trans, bias, lr, nblk, by_rows, KC, NC)
    if bias_later:
        for m in range(M):
            crow = c[m]
            for j in range(N):
                crow[j] += bias[j]


@unit(returns=types.none, **SERIAL)
def _direct_forward(x, w, b, y, n0, n1):
    n_in, n_out = w.shape
    for n in range(n0, n1):
        for j in range(n_out):
            y[n, j] = b[j]
        # i outside j: the inner loop runs along a row of w and a row of y, both
        # contiguous, so it vectorizes; x[n, i] stays in a register.
        for i in range(n_in):
            x_ni = x[n, i]
            for j in range(n_out):
                y[n, j] += x_ni * w[i, j]


@unit(returns=types.none, **SERIAL)
def _direct_backward_input(dy, w, dx, n0, n1):
    n_in, n_out = w.shape
    for n in range(n0, n1):
        for i in range(n_in):
            # the sum over j reads a row of w and a row of dy: contiguous, and
            # `reassoc` lets LLVM split it into vector lanes
            s = dy[n, 0] * w[i, 0]
            for j in range(1, n_out):
                s += w[i, j] * dy[n, j]
            dx[n, i] = s


@unit(returns=types.none, **SERIAL)
def _direct_weight_gradient(x, dy, dw, i0, i1):
    n_out = dy.shape[1]
    for i in range(i0, i1):
        for j in range(n_out):
            dw[i, j] = 0
        # n outside j: the sum over samples is accumulated a whole row dw[i, :] at
        # a time, reading rows of dy contiguously.
        for n in range(x.shape[0]):
            x_ni = x[n, i]
            for j in range(n_out):
                dw[i, j] += x_ni * dy[n, j]


@jit(**SERIAL)
def _bias_gradient(dy, db):
    for j in range(dy.shape[1]):
        db[j] = 0
    for n in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            db[j] += dy[n, j]


@unit(returns=types.none, **SERIAL)
def _direct_sgd_update(x, dy, w, lr, i0, i1):
    n_out = dy.shape[1]
    g = np.empty(n_out, dtype=w.dtype)
    for i in range(i0, i1):
        # the gradient row is completed before the step, as in the formula: the sum
        # over the batch, then one multiply by lr
        for j in range(n_out):
            g[j] = 0
        for n in range(x.shape[0]):
            x_ni = x[n, i]
            for j in range(n_out):
                g[j] += x_ni * dy[n, j]
        for j in range(n_out):
            w[i, j] -= lr * g[j]



@jit(**SERIAL)
def _dense_forward(x, w, b, y):
    n, n_in = x.shape
    n_out = w.shape[1]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_forward(x, w, b, y, 0, n)
    else:
        _gemm(x, False, w, True, n, n_out, n_in, MODE_BIAS, y, b, y.dtype.type(0))


@jit(**SERIAL)
def _dense_backward_input(dy, w, dx):
    n, n_out = dy.shape
    n_in = w.shape[0]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_backward_input(dy, w, dx, 0, n)
    else:
        _gemm(dy, False, w, False, n, n_in, n_out, MODE_STORE, dx, dx[0, :0], dx.dtype.type(0))


@jit(**SERIAL)
def _dense_backward_params(x, dy, dw, db):
    n, n_in = x.shape
    n_out = dy.shape[1]
    _bias_gradient(dy, db)
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_weight_gradient(x, dy, dw, 0, n_in)
    else:
        _gemm(x, True, dy, True, n_in, n_out, n, MODE_STORE, dw, db, dw.dtype.type(0))


@jit(**SERIAL)
def _dense_sgd_update(x, dy, w, b, lr):
    n, n_in = x.shape
    n_out = dy.shape[1]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_sgd_update(x, dy, w, lr, 0, n_in)
    else:
        _gemm(x, True, dy, True, n_in, n_out, n, MODE_SGD, w, b, lr)
    db = np.empty_like(b)
    _bias_gradient(dy, db)
    for j in range(b.shape[0]):
        b[j] -= lr * db[j]


def dense_forward(x, w, b, out=None, *, check_finite=True):
    """Forward pass of a dense layer: ``y[n, j] = Σ_i x[n, i] w[i, j] + b[j]``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        Inputs, one row per sample.
    w : ndarray, shape (n_in, n_out)
        Weights; ``w[i, j]`` connects input ``i`` to output ``j``.
    b : ndarray, shape (n_out,)
        Biases.
    out : ndarray, shape (n, n_out), optional
        Buffer for the result (C-contiguous, writeable, same dtype); allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs with a ``ValueError``.

    Returns
    -------
    y : ndarray, shape (n, n_out)
        Same dtype as the inputs (float32 or float64).
    """
    x, w, b, y = _checks.dense_forward_args(x, w, b, out, check_finite)
    _dense_forward(x, w, b, y)
    return y


def dense_backward_input(dy, w, out=None, *, check_finite=True):
    """Gradient with respect to the layer's input: ``dx[n, i] = Σ_j w[i, j] dy[n, j]``.

    Parameters
    ----------
    dy : ndarray, shape (n, n_out)
        dE/dy, the gradient at the layer's outputs.
    w : ndarray, shape (n_in, n_out)
        The weights as they were in the forward pass.
    out : ndarray, shape (n, n_in), optional
        Buffer for the result; allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs.

    Returns
    -------
    dx : ndarray, shape (n, n_in)
    """
    dy, w, dx = _checks.dense_backward_input_args(dy, w, out, check_finite)
    _dense_backward_input(dy, w, dx)
    return dx


def dense_backward_params(x, dy, out=None, *, check_finite=True):
    """Parameter gradients summed over the batch.

    ``dw[i, j] = Σ_n x[n, i] dy[n, j]`` and ``db[j] = Σ_n dy[n, j]``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The layer's inputs in the forward pass.
    dy : ndarray, shape (n, n_out)
        dE/dy.
    out : tuple (dw, db), optional
        Buffers of shapes (n_in, n_out) and (n_out,); allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs.

    Returns
    -------
    dw : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    """
    x, dy, dw, db = _checks.dense_backward_params_args(x, dy, out, check_finite)
    _dense_backward_params(x, dy, dw, db)
    return dw, db


def dense_sgd_update(x, dy, w, b, lr, *, check_finite=True):
    """Fused gradient and SGD step, in place.

    ``w[i, j] -= lr · Σ_n x[n, i] dy[n, j]`` and ``b[j] -= lr · Σ_n dy[n, j]``,
    without storing the gradient.  Take the layer's input gradient (which needs the
    old weights) before calling this.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The layer's inputs in the forward pass.
    dy : ndarray, shape (n, n_out)
        dE/dy.
    w : ndarray, shape (n_in, n_out)
        Weights, updated in place (C-contiguous, writeable).
    b : ndarray, shape (n_out,)
        Biases, updated in place.
    lr : float
        Learning rate α (finite).
    check_finite : bool, default True
        Reject NaN or infinite inputs before anything is written.

    Returns
    -------
    None
    """
    x, dy, w, b, lr = _checks.dense_sgd_update_args(x, dy, w, b, lr, check_finite)
    _dense_sgd_update(x, dy, w, b, lr)
