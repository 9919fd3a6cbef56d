"""The GEMM behind the dense kernels of :mod:`fastnn.loops.dense`: C = op(A) · op(B),
register-blocked, packed, cache-blocked and split between threads.

Design
------
Each of the three weight sums is one product C = op(A) · op(B) of the same shape:

    kernel             C (M x N)           A (M x K)   B (K x N)   sum over
    forward            y  (n x n_out)      x           w           i (K = n_in)
    input gradient     dx (n x n_in)       dy          wᵀ          j (K = n_out)
    weight gradient    dw (n_in x n_out)   xᵀ          dy          n (K = n)
    fused update       w  (n_in x n_out)   xᵀ          dy          n, then − lr ·

Small problems (below :data:`fastnn.loops.dense.DIRECT_MAX_FLOPS` multiply-adds)
never come here: they run the sums as written (``fastnn.loops.dense``).  Larger ones
run one register-blocked kernel for all four (the GotoBLAS/BLIS scheme):

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
  as LLVM IR because the same copy as loops ran no faster).  The copy of A = xᵀ in
  the weight gradient takes the elements of 8 panels from each row of x at once
  (``_copy_panels8``).  Both made the float32 gradients faster.  Only packing uses
  these: every sum of the formulas is still a loop.  Packing is a small part of a
  product; faster packing copies cost more compile time than they saved, and
  packing a shared operand once, by all threads, was no faster than each block
  packing its own copy (docs/design-notes.md).
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

Pitfalls that shaped the code (docs/design-notes.md): index expressions like ``buf[off
+ k * NR + j]`` make Numba emit a negative-index check that LLVM turns into gathers,
so every loop indexes a view starting at its offset, or (in the packing copies,
where making views cost more than the copy) uses unsigned indices, which need no
check; a j loop shorter than 48 gets fully unrolled before vectorization (again
gathers), hence NR >= 48; the accumulator must be a stack tile (``_stack_tile``),
which LLVM keeps in registers, not a heap array.
"
"""

import numba
import numpy as np
from numba import prange, types

from .._config import PARALLEL, PARALLEL_MIN_FLOPS, SERIAL
from .._jit import jit, unit
from ._pack import _aligned_empty, _pack_copy, _pack_transpose, _stack_tile, _tiles
from ._views import _unowned

ROWS_PER_BLOCK = 512
"""Rows (or columns) of C per parallel block, when C has enough (see ``_split``)."""

ROWS_MIN = 32
"""C is split by rows only if each of two blocks gets at least this many."""

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
    emit vgather/vscatter instead of unit-stride loads.

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
    # constant: with the mode a run-time value inside the row loop, the small weight
    # and input gradients ran slower (docs/design-notes.md).  A
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


@unit(returns=types.none, **SERIAL)
def _gemm_tiles(a, a_kmajor, b, b_kmajor, m0, m1, n0, n1, K, mode, c, trans, bias, lr, KC, NC,
                nkb, a_blk, ap, bp, part):
    """The loops of :func:`_gemm_block`, on the packing buffers it allocated (``ap``,
    ``bp``, ``part``); every array is held by the caller for the call, so none is
    reference counted here (:func:`._views._unowned`): a small product makes dozens
    of micro-kernel calls.  (A unit: linked into ``_gemm_block``, its code would be
    compiled twice.)

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
        # pack (wᵀ in the input gradient) three times: split the way that copies less
        # (docs/design-notes.md).  But with ROWS_PER_BLOCK rows or more, the input
        # gradient is split by rows whatever it copies: by columns, every block
        # packs and re-reads all of A, 8 MiB (float32) or 16 MiB (float64) at
        # (1024, 2048, 2048), two such blocks at a time, as much as the L3 cache;
        # with 128 rows, columns stay faster.
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
    are strided, so a small saving is not worth it (docs/design-notes.md)."""
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
