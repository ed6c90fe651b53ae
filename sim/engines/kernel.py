"""The compiled kernel of the fast engine, and the array layout both engines share.

See ``docs/ODD.md`` for the equations; :mod:`sim.engines.mesa_engine` is the same model written
agent by agent.

It computes what :mod:`sim.engines.mesa_engine` computes (same equations, same random draws from the
same streams in the same order), so the two agree to rounding; the Mesa engine is the readable
reference, this one is the one to use for Monte Carlo. Three parts:

* the synthetic initial population (ODD 5.3: :func:`population_layout` once per configuration,
  :func:`synthesize_population` per replication), which both engines use;
* one replication (:func:`simulate`, one call per submodel, in the order of ``RegionModel.step``);
* :func:`simulate_batch`, many replications in one call (population, run and price levels of each,
  every replication with its own random streams), so Monte Carlo pays no Python per replication;
* the random streams: numpy's PCG64 and the distributions the model draws (numpy's algorithms,
  draw for draw), stepped on states of four words, so a replication needs no Generator object.

Every compiled function lives in this one file on purpose: numba's cache (``cache=True``: the first
call in a fresh environment compiles, later processes load the machine code) is keyed on the file of
the function it caches, so a change in a callee in another file would leave a stale caller.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from numba.np.random import _constants as zig

#: Order of the scalar parameter vector. The layout lives in this file on purpose: numba's cache
#: is keyed on this file, so a layout change always recompiles the kernel.
SCALARS = (
    "dt", "sqrt_dt", "thr", "log_thr", "sigma0", "log_sigma_ref", "sigma_elast", "sigma_max",
    "rd_mean", "rd_log_sd", "rd_effect", "rd_mult", "macro_sigma", "macro_rho", "ind_sigma",
    "ind_rho", "startup_rate", "startup_floor", "log_startup_size", "startup_log_sd",
    "attract_rate", "attract_size", "attract_alpha", "attract_cap", "exit_h0", "exit_gamma",
    "talent0", "talent_inflow0", "talent_growth", "talent_attrition", "prod_growth",
    "shortage_penalty", "ticket", "kappa", "lag_steps", "hold_steps", "exit_mult", "recycle",
    "select_exp", "additionality", "failure", "nonsei0", "nonsei_g", "nonsei_sigma", "serv_g", "serv_sigma", "gdp_rest0",
    "gdp_g", "gdp_sigma", "va_ratio", "nonsei_va", "big1", "big2", "agg_alpha",
)

#: Order of the per-configuration vector of the initial population (ODD 5.3); ``big`` is NaN when
#: the plan gives no very-large-firm class, ``big_below`` the largest float below ``big``.
POPULATION = (
    "thr", "pareto_alpha", "subscale_log_sd", "rd_mean", "rd_log_sd", "big", "big_below", "n_sub",
)

#: Order of the per-configuration vector of the price levels (ODD 7.15).
PRICES = ("industrial_inflation", "gdp_inflation", "industrial_inflation_sigma",
          "gdp_inflation_sigma")

#: The streams the kernel draws from, in the order :func:`simulate_batch` takes their PCG64 states
#: per replication: ``sim.model.inputs.STREAMS`` less ``agents``, which only Mesa uses.
KERNEL_STREAMS = ("population", "macro", "growth", "exit", "fund", "entry", "prices")

#: Columns of the per-year output: flows are yearly totals (output: the year's production);
#: non-SEI output is on the comparable (same-sample) basis of published growth rates, the published
#: level is derived from it (sim.engines.state.derived_columns, ODD 7.17);
#: talent_shortage and macro_shock are yearly averages; stocks and counts are year-end values
#: (firms entering in a year's last step are counted from the next year).
ANNUAL = (
    "sei_industrial_output", "nonsei_output_comparable", "sei_services_output", "gdp_rest",
    "above_scale_firms", "firms_over_10", "firms_over_100", "alive_firms",
    "talent_stock", "talent_demand", "talent_shortage",
    "fund_invested", "co_investment", "fund_cash", "fund_stakes", "fund_exit_proceeds",
    "fund_writeoffs", "fund_projects_failed", "fund_deals_blocked", "entries_startup", "entries_attracted", "entries_blocked",
    "entries_dropped", "exits", "crossings", "macro_shock",
    # Exogenous price levels (yearly levels, base year = 1). No process reads them: they are drawn
    # from their own stream after the run (price_levels), the same function for both engines.
    "industrial_price_level", "gdp_price_level",
)

# Index constants as module globals (numba freezes them into the compiled code). They are made
# from the tuples above so the layout is written once; linters cannot see them, hence F821 off.
# ruff: noqa: F821
for _k, _name in enumerate(SCALARS):
    globals()["S_" + _name.upper()] = _k
for _k, _name in enumerate(POPULATION):
    globals()["POP_" + _name.upper()] = _k
for _k, _name in enumerate(PRICES):
    globals()["PR_" + _name.upper()] = _k
for _k, _name in enumerate(KERNEL_STREAMS):
    globals()["R_" + _name.upper()] = _k
for _k, _name in enumerate(ANNUAL):
    globals()["A_" + _name.upper()] = _k
A_INDEX = {name: k for k, name in enumerate(ANNUAL)}

#: Event counts and amounts a step adds to its year's row, in the order both engines tally them
#: (the Mesa engine's ``RegionModel.tally`` has the same keys).
STEP_TALLY = (
    "exits", "crossings", "fund_invested", "co_investment", "fund_exit_proceeds",
    "fund_writeoffs", "fund_projects_failed", "fund_deals_blocked", "entries_startup",
    "entries_attracted", "entries_blocked", "entries_dropped",
)
for _k, _name in enumerate(STEP_TALLY):
    globals()["T_" + _name.upper()] = _k
TALLY_COLUMNS = np.array([A_INDEX[name] for name in STEP_TALLY], np.int64)


def pack_scalars(named: dict[str, float]) -> np.ndarray:
    missing = set(SCALARS) - set(named)
    if missing:
        raise KeyError(f"scalar parameters missing: {sorted(missing)}")
    return np.array([float(named[name]) for name in SCALARS])


def pack_population(named: dict[str, float]) -> np.ndarray:
    return _pack(named, POPULATION, "population")


def pack_prices(named: dict[str, float]) -> np.ndarray:
    return _pack(named, PRICES, "price")


def _pack(named, layout, what):
    missing = set(layout) - set(named)
    if missing:
        raise KeyError(f"{what} parameters missing: {sorted(missing)}")
    return np.array([float(named[name]) for name in layout])


# -- exp -----------------------------------------------------------------------------------------
# The firm step evaluates three exponentials per firm (volatility, output, exit hazard). libm's exp
# is an opaque call that keeps the loop scalar; this one is branch-free arithmetic, so the compiler
# vectorizes the loop around it (4 firms per AVX2 instruction): x = k*ln2 + r with |r| <= ln2/2,
# exp(r) - 1 by its degree-13 Taylor polynomial (truncation < 5e-18 relative), scaled by 2^k in two
# factors so that overflow gives inf and underflow gradual subnormals, as IEEE exp does. The result
# is within 1 ulp of the correctly rounded value for normal results (tests/test_kernel.py checks
# it against math.exp), so the Mesa engine, which uses math.exp, agrees to rounding.

def _split_ln2():
    with localcontext() as ctx:
        ctx.prec = 50
        ln2 = Decimal(2).ln()
        m, e = math.frexp(float(ln2))
        hi = math.ldexp(math.floor(m * 2.0 ** 32) / 2.0 ** 32, e)  # k*hi exact for |k| < 2^20
        return float(1 / ln2), hi, float(ln2 - Decimal(hi))


_EXP_INV_LN2, _EXP_LN2_HI, _EXP_LN2_LO = _split_ln2()
_EXP_SHIFTER = 6755399441055744.0  # 1.5 * 2^52: x + shifter rounds x to an integer in the low bits
(_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13) = (
    1.0 / math.factorial(n) for n in range(2, 14))




@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose IEEE bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_from_float(typingctx, x):
    """The IEEE bit pattern of the float64 ``x`` as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@njit(cache=True, error_model="numpy")
def exp_fast(x):
    """exp(x) within 1 ulp (see above), without branches: inf above 709.78, subnormals and 0 below
    -708.4, nan for nan."""
    xc = min(max(x, -746.0), 710.0)
    t = xc * _EXP_INV_LN2 + _EXP_SHIFTER
    kd = t - _EXP_SHIFTER
    k = _bits_from_float(t) - _bits_from_float(_EXP_SHIFTER)  # round(xc / ln2) as an integer
    r = (xc - kd * _EXP_LN2_HI) - kd * _EXP_LN2_LO
    r2 = r * r
    r4 = r2 * r2
    p = ((r + r2 * (_E2 + r * _E3))
         + r4 * ((_E4 + r * _E5) + r2 * (_E6 + r * _E7)
                 + r4 * ((_E8 + r * _E9) + r2 * (_E10 + r * _E11) + r4 * (_E12 + r * _E13))))
    half = k >> 1
    s1 = _float_from_bits((half + 1023) << 52)
    s2 = _float_from_bits((k - half + 1023) << 52)
    y = (s1 + s1 * p) * s2
    return y if x == x else x


# -- the random streams --------------------------------------------------------------------------
# Every stream is numpy's PCG64, and every draw is what numpy's Generator would return, bit for bit
# (tests/test_kernel.py), so the Mesa engine, which calls numpy, gets the same draws. A stream's
# state travels as four uint64 (state and increment, high and low words: ``stream_state`` /
# ``set_stream_state`` move it between a numpy Generator and the kernel), so a replication's
# streams are rows of an array rather than Generator objects (numba converts each Generator it is
# handed at a cost of tens of microseconds, and compiles a typed list of them in every process).
#
# The growth stream is the hot one: every live firm draws one standard normal per step from it. A
# PCG64 step waits for the one before; here the growth stream is generated four numbers at a time
# from four interleaved states (s_{n+4} = M^4 s_n + c_4, independent multiplications) and numpy's
# ziggurat turns them into normals (``growth_normals``). The other streams draw one number at a
# time (``next_uint64`` and the distributions after it).

PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341  # the LCG's multiplier
_MASK128, _MASK64 = (1 << 128) - 1, (1 << 64) - 1
_PCG_M4 = pow(PCG64_MULTIPLIER, 4, 1 << 128)                      # four steps at once ...
_PCG_G4 = sum(PCG64_MULTIPLIER ** e for e in range(4)) & _MASK128  # ... c_4 = inc * G4
_M_HI, _M_LO = np.uint64(PCG64_MULTIPLIER >> 64), np.uint64(PCG64_MULTIPLIER & _MASK64)
_M4_HI, _M4_LO = np.uint64(_PCG_M4 >> 64), np.uint64(_PCG_M4 & _MASK64)
_G4_HI, _G4_LO = np.uint64(_PCG_G4 >> 64), np.uint64(_PCG_G4 & _MASK64)
_U0, _U1, _U3, _U8, _U11, _U58, _U63 = (np.uint64(v) for v in (0, 1, 3, 8, 11, 58, 63))
_U_FF, _U_MANT = np.uint64(0xff), np.uint64(0x000fffffffffffff)
_ZIG_W, _ZIG_K, _ZIG_F = zig.wi_double, zig.ki_double, zig.fi_double  # numpy's ziggurat tables
_ZIG_R, _ZIG_INV_R = zig.ziggurat_nor_r, zig.ziggurat_nor_inv_r
_ZIG_WE, _ZIG_KE, _ZIG_FE = zig.we_double, zig.ke_double, zig.fe_double  # ... of the exponential
_ZIG_EXP_R = zig.ziggurat_exp_r
_TO_DOUBLE = 1.0 / 9007199254740992.0  # 2^-53: the top 53 bits of an output as a double in [0, 1)


def state_words(state: int, inc: int) -> np.ndarray:
    """A PCG64 (state, increment) as the kernel's four words."""
    return np.array([state >> 64, state & _MASK64, inc >> 64, inc & _MASK64], np.uint64)


def stream_state(rng: np.random.Generator) -> np.ndarray:
    """A PCG64 generator's position as the kernel's four words."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise TypeError(f"model streams must be PCG64, not {st['bit_generator']}")
    return state_words(st["state"]["state"], st["state"]["inc"])


def set_stream_state(rng: np.random.Generator, words: np.ndarray) -> None:
    """Move a PCG64 generator to the position the kernel left in ``words``."""
    st = rng.bit_generator.state
    st["state"]["state"] = (int(words[0]) << 64) | int(words[1])
    rng.bit_generator.state = st


@intrinsic
def _mul_add_128(typingctx, a_hi, a_lo, b_hi, b_lo, c_hi, c_lo):
    """(a * b + c) mod 2^128 on (high, low) uint64 pairs."""
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)

        def wide(hi, lo):
            return builder.or_(builder.shl(builder.zext(hi, i128), ir.Constant(i128, 64)),
                               builder.zext(lo, i128))
        v = builder.add(builder.mul(wide(args[0], args[1]), wide(args[2], args[3])),
                        wide(args[4], args[5]))
        hi = builder.trunc(builder.lshr(v, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, (hi, builder.trunc(v, i64)))
    return sig, codegen


@njit(cache=True, error_model="numpy")
def _pcg_output(hi, lo):
    """PCG64's output function (XSL RR) of a state."""
    rot = hi >> _U58
    x = hi ^ lo
    return (x >> rot) | (x << ((_U0 - rot) & _U63))


@njit(cache=True, error_model="numpy")
def pcg_fill(state, raw, n):
    """``raw[:n]`` = the next ``n`` outputs of the PCG64 stream at ``state`` (advanced)."""
    inc_hi, inc_lo = state[2], state[3]
    h0, l0 = _mul_add_128(state[0], state[1], _M_HI, _M_LO, inc_hi, inc_lo)
    if n >= 4:
        c_hi, c_lo = _mul_add_128(inc_hi, inc_lo, _G4_HI, _G4_LO, _U0, _U0)
        h1, l1 = _mul_add_128(h0, l0, _M_HI, _M_LO, inc_hi, inc_lo)
        h2, l2 = _mul_add_128(h1, l1, _M_HI, _M_LO, inc_hi, inc_lo)
        h3, l3 = _mul_add_128(h2, l2, _M_HI, _M_LO, inc_hi, inc_lo)
        m = 0
        while True:
            raw[m] = _pcg_output(h0, l0)
            raw[m + 1] = _pcg_output(h1, l1)
            raw[m + 2] = _pcg_output(h2, l2)
            raw[m + 3] = _pcg_output(h3, l3)
            m += 4
            if m + 4 > n:
                break
            h0, l0 = _mul_add_128(h0, l0, _M4_HI, _M4_LO, c_hi, c_lo)
            h1, l1 = _mul_add_128(h1, l1, _M4_HI, _M4_LO, c_hi, c_lo)
            h2, l2 = _mul_add_128(h2, l2, _M4_HI, _M4_LO, c_hi, c_lo)
            h3, l3 = _mul_add_128(h3, l3, _M4_HI, _M4_LO, c_hi, c_lo)
        h0, l0 = h3, l3
        if m < n:
            h0, l0 = _mul_add_128(h0, l0, _M_HI, _M_LO, inc_hi, inc_lo)
    else:
        m = 0
    while m < n:
        raw[m] = _pcg_output(h0, l0)
        m += 1
        if m < n:
            h0, l0 = _mul_add_128(h0, l0, _M_HI, _M_LO, inc_hi, inc_lo)
    if n > 0:
        state[0], state[1] = h0, l0


@njit(cache=True, error_model="numpy")
def _next_raw(state, raw, pos, avail, need):
    """The next raw output and the buffer's new (pos, avail), generating ``need`` more when the
    buffer is used up (``need`` never exceeds what the caller will still consume, so the stream
    is never advanced past its draws)."""
    if pos == avail:
        pcg_fill(state, raw, need)
        pos, avail = 0, need
    return raw[pos], pos + 1, avail


@njit(cache=True, error_model="numpy")
def _normal_rejected(state, raw, pos, avail, need, idx, rabs, x):
    """The rare branches of numpy's ziggurat (0.7% of draws): the tail (idx 0) and the wedges.
    Returns (normal or nan to draw again, pos, avail)."""
    if idx == 0:
        while True:
            r1, pos, avail = _next_raw(state, raw, pos, avail, need)
            r2, pos, avail = _next_raw(state, raw, pos, avail, need)
            xx = -_ZIG_INV_R * math.log1p(-((r1 >> _U11) * (1.0 / 9007199254740992.0)))
            yy = -math.log1p(-((r2 >> _U11) * (1.0 / 9007199254740992.0)))
            if yy + yy > xx * xx:
                return (-(_ZIG_R + xx) if (rabs >> _U8) & _U1 else _ZIG_R + xx), pos, avail
    r1, pos, avail = _next_raw(state, raw, pos, avail, need)
    if ((_ZIG_F[idx - 1] - _ZIG_F[idx]) * ((r1 >> _U11) * (1.0 / 9007199254740992.0))
            + _ZIG_F[idx]) < math.exp(-0.5 * x * x):
        return x, pos, avail
    return np.nan, pos, avail


@njit(cache=True, error_model="numpy")
def growth_normals(state, raw, at, alive, lo, hi, eps):
    """``eps[i - lo]`` = a standard normal for every live slot i in [lo, hi), in slot order:
    numpy's ``Generator.standard_normal`` (ziggurat) on the PCG64 stream at ``state``, draw for
    draw. ``at`` carries [next raw output in ``raw``, raw outputs available, normals still to
    draw] from one call to the next (a step draws its normals block by block); raw outputs are
    generated at most as many as normals remain, so the stream never runs ahead of its draws."""
    pos, avail, left = at[0], at[1], at[2]
    for i in range(lo, hi):
        if alive[i] == 0:
            continue
        while True:
            if pos == avail:
                avail, pos = min(left, raw.size), 0
                pcg_fill(state, raw, avail)
            r = raw[pos]
            pos += 1
            idx = r & _U_FF
            r = r >> _U8
            rabs = (r >> _U1) & _U_MANT
            # x = +-rabs * w[idx]; the sign as a factor, not a branch (it is a coin flip)
            x = (rabs * _ZIG_W[idx]) * (1.0 - 2.0 * (r & _U1))
            if rabs < _ZIG_K[idx]:
                break  # 99.3% of draws
            x, pos, avail = _normal_rejected(state, raw, pos, avail, min(left, raw.size), idx,
                                             rabs, x)
            if x == x:
                break
        eps[i - lo] = x
        left -= 1
    at[0], at[1], at[2] = pos, avail, left


@njit(cache=True, error_model="numpy")
def next_uint64(st):
    """The next output of the PCG64 stream at ``st`` (advanced): numpy's ``pcg64_next64``."""
    hi, lo = _mul_add_128(st[0], st[1], _M_HI, _M_LO, st[2], st[3])
    st[0], st[1] = hi, lo
    return _pcg_output(hi, lo)


@njit(cache=True, error_model="numpy")
def draw_uniform(st):
    """``Generator.random()``: a double in [0, 1) from the top 53 bits of an output."""
    return (next_uint64(st) >> _U11) * _TO_DOUBLE


@njit(cache=True, error_model="numpy")
def draw_normal(st):
    """``Generator.standard_normal()``: numpy's ziggurat (the scalar form of ``growth_normals``)."""
    while True:
        r = next_uint64(st)
        idx = r & _U_FF
        r = r >> _U8
        rabs = (r >> _U1) & _U_MANT
        x = rabs * _ZIG_W[idx]
        if r & _U1:
            x = -x
        if rabs < _ZIG_K[idx]:
            return x
        if idx == 0:  # the tail
            while True:
                xx = -_ZIG_INV_R * math.log1p(-draw_uniform(st))
                yy = -math.log1p(-draw_uniform(st))
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if (rabs >> _U8) & _U1 else _ZIG_R + xx
        if (_ZIG_F[idx - 1] - _ZIG_F[idx]) * draw_uniform(st) + _ZIG_F[idx] \
                < math.exp(-0.5 * x * x):
            return x


@njit(cache=True, error_model="numpy")
def draw_normals(st, n):
    """``Generator.standard_normal(n)``: ``n`` normals in order."""
    out = np.empty(n)
    for i in range(n):
        out[i] = draw_normal(st)
    return out


@njit(cache=True, error_model="numpy")
def draw_exponential(st):
    """``Generator.standard_exponential()``: numpy's exponential ziggurat."""
    while True:
        ri = next_uint64(st) >> _U3
        idx = ri & _U_FF
        ri = ri >> _U8
        x = ri * _ZIG_WE[idx]
        if ri < _ZIG_KE[idx]:
            return x
        if idx == 0:  # the tail
            return _ZIG_EXP_R - math.log1p(-draw_uniform(st))
        if (_ZIG_FE[idx - 1] - _ZIG_FE[idx]) * draw_uniform(st) + _ZIG_FE[idx] < math.exp(-x):
            return x


@njit(cache=True, error_model="numpy")
def draw_pareto(st, a):
    """``Generator.pareto(a)`` (Lomax: a Pareto variate less one)."""
    return math.expm1(draw_exponential(st) / a)


@njit(cache=True, error_model="numpy")
def _loggam(x):
    """log Gamma(x) as numpy's Poisson sampler computes it (a Stirling series, shifted up to 7)."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * math.log(x0) - x0
    if x < 7.0:
        for _ in range(n):
            gl -= math.log(x0 - 1.0)
            x0 -= 1.0
    return gl


_LOGGAM_A = np.array([8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
                      -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
                      6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
                      -1.39243221690590e+00])


@njit(cache=True, error_model="numpy")
def draw_poisson(st, lam):
    """``Generator.poisson(lam)``: numpy's multiplication method below 10, its transformed
    rejection (PTRS, Hormann 1993) from 10 on."""
    if lam >= 10.0:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = draw_uniform(st) - 0.5
            v = draw_uniform(st)
            us = 0.5 - abs(u)
            k = int(math.floor((2 * a / us + b) * u + lam + 0.43))
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                    <= -lam + k * loglam - _loggam(k + 1)):
                return k
    if lam == 0.0:
        return 0
    enlam = math.exp(-lam)
    x = 0
    prod = 1.0
    while True:
        prod *= draw_uniform(st)
        if prod > enlam:
            x += 1
        else:
            return x


# -- the initial population (ODD 5.3) ------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def allocate_counts(cell_output, total):
    """Firm counts per cell proportional to output (largest remainder), at least one per
    non-empty cell (ODD 5.3 step 1)."""
    flat = cell_output.ravel()
    n_cells = flat.size
    counts = np.zeros(n_cells, np.int64)
    n_positive = 0
    out_sum = 0.0
    for c in range(n_cells):
        out_sum += flat[c]
        if flat[c] > 0:
            n_positive += 1
    if n_positive == 0:
        return counts.reshape(cell_output.shape)
    total = max(total, n_positive)
    share = flat / out_sum * total
    assigned = 0
    for c in range(n_cells):
        if flat[c] > 0:
            counts[c] = max(1, int(math.floor(share[c])))
        assigned += counts[c]
    remaining = total - assigned
    if remaining > 0:
        key = np.empty(n_cells)
        for c in range(n_cells):
            key[c] = -(share[c] - math.floor(share[c])) * (1.0 if flat[c] > 0 else 0.0)
        order = np.argsort(key, kind="mergesort")  # stable
        for m in range(min(remaining, n_cells)):
            counts[order[m]] += 1
    elif remaining < 0:
        order = np.argsort(share - counts, kind="mergesort")
        for m in range(n_cells):
            if remaining == 0:
                break
            c = order[m]
            if counts[c] > 1:
                counts[c] -= 1
                remaining += 1
    return counts.reshape(cell_output.shape)


@njit(cache=True, error_model="numpy")
def allocate_big_firms(cell_output, counts, n_big, big, threshold):
    """Place ``n_big`` firms of at least ``big`` one at a time in the feasible cell with the
    largest output per big firm (ODD 5.3 step 2); returns per-cell big counts and how many could
    not be placed."""
    flat_out, flat_n = cell_output.ravel(), counts.ravel()
    bigs = np.zeros(flat_n.size, np.int64)
    placed = 0
    for _ in range(n_big):
        best, best_score = -1, -np.inf
        for c in range(flat_n.size):
            slack = flat_out[c] - big * (bigs[c] + 1) - threshold * (flat_n[c] - bigs[c] - 1)
            if slack >= 0 and bigs[c] < flat_n[c]:
                score = flat_out[c] / (bigs[c] + 1)
                if score > best_score:
                    best, best_score = c, score
        if best < 0:
            break
        bigs[best] += 1
        placed += 1
    return bigs.reshape(counts.shape), n_big - placed


@njit(cache=True, error_model="numpy")
def population_layout(cell_output, above_scale_firms, big, big_below, n_big, thr):
    """The seed-independent part of the population (ODD 5.3 steps 1-3): firms and very large
    firms per cell. Returns (counts, bigs, unplaced big firms, lifted, firms in cells with
    output): ``lifted`` marks the cells whose firms' cap below ``big`` has to be lifted
    (:func:`cell_bounds`)."""
    counts = allocate_counts(cell_output, above_scale_firms)
    bigs = np.zeros_like(counts)
    unplaced = 0
    if not math.isnan(big) and n_big > 0:
        bigs, unplaced = allocate_big_firms(cell_output, counts, n_big, big, thr)
    P, J = counts.shape
    for p in range(P):
        for j in range(J):
            if counts[p, j] * thr > cell_output[p, j] + 1e-12:
                # Fewer firms where the cell's output cannot keep them all above the threshold.
                counts[p, j] = max(1, int(math.floor(cell_output[p, j] / thr)))
    lifted = np.zeros(counts.shape, np.bool_)
    n_fitted = 0
    for p in range(P):
        for j in range(J):
            if counts[p, j] > 0 and cell_output[p, j] > 0:
                n_fitted += counts[p, j]
                if not math.isnan(big):
                    lifted[p, j] = cell_bounds(cell_output[p, j], counts[p, j], bigs[p, j], thr,
                                               big, big_below)[2]
    return counts, bigs, unplaced, lifted, n_fitted


@njit(cache=True, error_model="numpy")
def cell_bounds(total, n, b, thr, big, big_below):
    """Lower and upper size bounds of a cell's ``n`` firms, the first ``b`` of them very large
    (ODD 5.3 step 4). Returns (lower, upper, whether the cap below ``big`` had to be lifted)."""
    lower = np.full(n, min(thr, total / n))
    upper = np.full(n, np.inf)
    lifted = False
    if not math.isnan(big):
        held = 0.0
        for i in range(n):
            if i < b:
                lower[i] = big
                held += big
            else:
                upper[i] = big_below
                held += big_below
        if total > held:
            lifted = True  # the plan's count cannot hold: let the tail exceed it
            for i in range(b, n):
                upper[i] = np.inf
    return lower, upper, lifted


@njit(cache=True, error_model="numpy")
def clipped_sum(c, raw, lower, upper):
    """sum_i clip(c * raw_i, lower_i, upper_i) for every value in ``c``, in O((n + m) log n).

    Firm i is at its lower bound while c < lower_i / raw_i, at its upper bound once
    c >= upper_i / raw_i, and equal to c * raw_i in between; sorted breakpoints and cumulative sums
    give the three groups' totals for each c.
    """
    n = raw.size
    a, b = lower / raw, upper / raw
    oa, ob = np.argsort(a), np.argsort(b)
    a_sorted, b_sorted = a[oa], b[ob]
    cum_lo, cum_ra = np.zeros(n + 1), np.zeros(n + 1)
    cum_hi, cum_rb = np.zeros(n + 1), np.zeros(n + 1)
    for m in range(n):
        cum_lo[m + 1] = cum_lo[m] + lower[oa[m]]
        cum_ra[m + 1] = cum_ra[m] + raw[oa[m]]
        hi = upper[ob[m]]
        cum_hi[m + 1] = cum_hi[m] + (hi if math.isfinite(hi) else 0.0)
        cum_rb[m + 1] = cum_rb[m] + raw[ob[m]]
    na = np.searchsorted(a_sorted, c, side="right")
    nb = np.searchsorted(b_sorted, c, side="right")
    out = np.empty(c.size)
    for m in range(c.size):
        out[m] = ((cum_lo[n] - cum_lo[na[m]]) + c[m] * (cum_ra[na[m]] - cum_rb[nb[m]])
                  + cum_hi[nb[m]])
    return out


@njit(cache=True, error_model="numpy")
def fit_sizes(raw, total, lower, upper):
    """Scale ``raw`` sizes by one factor ``c``, clipped to [lower, upper], so they sum to ``total``.

    f(c) = sum(clip(c * raw, lower, upper)) is piecewise linear and non-decreasing in c, with kinks
    where a firm hits a bound; we evaluate it at every kink and interpolate exactly in the segment
    that brackets ``total``. Requires sum(lower) <= total <= sum(upper).
    """
    n = raw.size
    kinks_all = np.empty(2 * n)
    m = 0
    for i in range(n):
        kinks_all[m] = lower[i] / raw[i]
        m += 1
    for i in range(n):
        if math.isfinite(upper[i]):
            kinks_all[m] = upper[i] / raw[i]
            m += 1
    kinks = np.unique(kinks_all[:m])
    sums = clipped_sum(kinks, raw, lower, upper)
    k = np.searchsorted(sums, total)
    if k == 0:
        c = kinks[0]
    elif k == kinks.size:
        c = kinks[-1]
        base, free_raw = 0.0, 0.0
        for i in range(n):
            base += min(max(c * raw[i], lower[i]), upper[i])
            if upper[i] == np.inf:
                free_raw += raw[i]
        if free_raw > 0:
            c = c + (total - base) / free_raw
    else:
        c0, c1, s0, s1 = kinks[k - 1], kinks[k], sums[k - 1], sums[k]
        c = c0 + (c1 - c0) * (total - s0) / (s1 - s0) if s1 > s0 else c1
    sizes = np.empty(n)
    excess, free_sum = -total, 0.0
    for i in range(n):
        sizes[i] = min(max(c * raw[i], lower[i]), upper[i])
        excess += sizes[i]
        if sizes[i] > lower[i] and sizes[i] < upper[i]:
            free_sum += sizes[i]
    if free_sum > 0:
        for i in range(n):
            if sizes[i] > lower[i] and sizes[i] < upper[i]:
                sizes[i] -= excess * sizes[i] / free_sum
    return sizes


@njit(cache=True, error_model="numpy")
def synthesize_population(pop, cell_output, counts, bigs, rng, logy, ind, park, rd, age, alive):
    """ODD 5.3 steps 4-6: one replication's initial firms, written into the first slots of the
    firm arrays (cells in park-then-industry order, then the sub-threshold firms). ``pop`` is the
    :data:`POPULATION` vector, ``counts``/``bigs`` come from :func:`population_layout`. Draws, all
    from the population stream (``rng``, its PCG64 state, advanced): per cell ``n`` Pareto
    variates; per sub-threshold firm a uniform (its cell) and then a normal (its size); per firm a
    normal (R&D) and then an exponential (age). Returns the number of firms."""
    thr, alpha = pop[POP_THR], pop[POP_PARETO_ALPHA]
    big, big_below = pop[POP_BIG], pop[POP_BIG_BELOW]
    P, J = counts.shape
    n = 0
    n_counted = 0
    for p in range(P):
        for j in range(J):
            m, b, total = counts[p, j], bigs[p, j], cell_output[p, j]
            n_counted += m
            if m == 0 or total <= 0:
                continue
            raw = np.empty(m)
            for i in range(m):
                raw[i] = draw_pareto(rng, alpha) + 1.0
            raw = np.sort(raw)[::-1].copy()
            lower, upper, _ = cell_bounds(total, m, b, thr, big, big_below)
            sizes = fit_sizes(raw, total, lower, upper)
            for i in range(m):
                logy[n] = math.log(sizes[i])
                ind[n] = j
                park[n] = p
                n += 1
    # Sub-threshold firms, spread over cells in proportion to their above-scale counts (inverse
    # CDF on a uniform, as numpy's Generator.choice with p does).
    n_sub = int(pop[POP_N_SUB])
    if n_sub > 0:
        cdf = np.cumsum(counts.ravel() / n_counted)
        cdf /= cdf[-1]
        cells = np.empty(n_sub, np.int64)
        for i in range(n_sub):
            cells[i] = np.searchsorted(cdf, draw_uniform(rng), side="right")
        sd = pop[POP_SUBSCALE_LOG_SD]
        for i in range(n_sub):
            logy[n] = math.log(thr * math.exp(-abs(draw_normal(rng)) * sd - 1e-3))
            ind[n] = cells[i] % J
            park[n] = cells[i] // J
            n += 1
    rd_mean, rd_sd = pop[POP_RD_MEAN], pop[POP_RD_LOG_SD]
    for i in range(n):
        rd[i] = rd_mean * math.exp(rd_sd * draw_normal(rng) - 0.5 * rd_sd ** 2)
    for i in range(n):
        age[i] = 10.0 * draw_exponential(rng)
        alive[i] = 1
    return n


@njit(cache=True, error_model="numpy")
def price_levels(prices, n_years, rng, ann):
    """ODD 7.15: the industrial price level and the GDP deflator (base year 1), drawn per year
    from the prices stream (``rng``, its PCG64 state, advanced; industrial first), into their
    columns of ``ann``. ``prices`` is the :data:`PRICES` vector."""
    drift_i = math.log1p(prices[PR_INDUSTRIAL_INFLATION])
    drift_g = math.log1p(prices[PR_GDP_INFLATION])
    sig_i, sig_g = prices[PR_INDUSTRIAL_INFLATION_SIGMA], prices[PR_GDP_INFLATION_SIGMA]
    ann[0, A_INDUSTRIAL_PRICE_LEVEL] = 1.0
    ann[0, A_GDP_PRICE_LEVEL] = 1.0
    log_i = log_g = 0.0
    for t in range(n_years):
        z_i = draw_normal(rng)
        z_g = draw_normal(rng)
        log_i += z_i * sig_i + drift_i - 0.5 * sig_i ** 2
        log_g += z_g * sig_g + drift_g - 0.5 * sig_g ** 2
        ann[t + 1, A_INDUSTRIAL_PRICE_LEVEL] = math.exp(log_i)
        ann[t + 1, A_GDP_PRICE_LEVEL] = math.exp(log_g)


# -- one replication -----------------------------------------------------------------------------
# Per-firm scratch space of a run, allocated once per batch and reused replication after
# replication (a fresh run's values never depend on what a previous one left: every slot is written
# before it is read). Rows of the float block:
W_CLOCK, W_ELIG_W, W_ELIG_CUM = range(3)
N_WORK = 3
# ... of the int64 block: the step's fund-eligible firms in slot order, and grouped by industry
I_ELIG, I_ELIG_BY_IND = range(2)
# ... the int32 cell index p*J + j and the int8 busy flag (the firm holds a stake or a pending
# project) of each slot, and the growth stream's raw outputs.


def new_workspace(capacity: int):
    """Scratch space for runs of up to ``capacity`` firm slots (see ``simulate``)."""
    return (np.zeros((N_WORK, capacity)), np.zeros((2, capacity), np.int64),
            np.zeros(capacity, np.int32), np.zeros(capacity, np.int8),
            np.zeros(capacity, np.uint64))


@njit(cache=True, error_model="numpy")
def record_row0(s, logy, ind, park, rd, alive, n_used, serv0, ann, ann_ind, ann_park, ann_serv,
                history):
    """Year-0 row: the initial state (the plan's baseline) and the talent normalisation (ODD 5,
    7.12). Mesa: ``RegionModel._record_row0``."""
    demand = 0.0
    for i in range(n_used):
        if alive[i] == 0:
            continue
        y = math.exp(logy[i])
        demand += rd[i] * y
        ann[0, A_ALIVE_FIRMS] += 1
        if logy[i] >= s[S_LOG_THR]:
            ann[0, A_SEI_INDUSTRIAL_OUTPUT] += y
            ann_ind[0, ind[i]] += y
            ann_park[0, park[i]] += y
            ann[0, A_ABOVE_SCALE_FIRMS] += 1
            if y >= s[S_BIG1]:
                ann[0, A_FIRMS_OVER_10] += 1
            if y >= s[S_BIG2]:
                ann[0, A_FIRMS_OVER_100] += 1
        if history.shape[0] > 0:
            history[0, i] = y
    for k in range(serv0.size):
        ann_serv[0, k] = serv0[k]
        ann[0, A_SEI_SERVICES_OUTPUT] += serv0[k]
    ann[0, A_NONSEI_OUTPUT_COMPARABLE] = s[S_NONSEI0]
    ann[0, A_GDP_REST] = s[S_GDP_REST0]
    ann[0, A_TALENT_STOCK] = s[S_TALENT0]
    ann[0, A_TALENT_DEMAND] = s[S_TALENT0] * s[S_RD_MULT]
    return s[S_TALENT0] / demand if demand > 0 else 0.0


@njit(cache=True, error_model="numpy")
def update_shocks(s, macro, zind, e):
    """ODD 7.1: AR(1) macro and industry shocks from the step's macro-stream normals ``e``.
    Mesa: first lines of ``RegionModel.step``."""
    m_rho, m_sd = s[S_MACRO_RHO], s[S_MACRO_SIGMA] * math.sqrt(1 - s[S_MACRO_RHO] ** 2)
    z_rho, z_sd = s[S_IND_RHO], s[S_IND_SIGMA] * math.sqrt(1 - s[S_IND_RHO] ** 2)
    macro = m_rho * macro + m_sd * e[0]
    for j in range(zind.size):
        zind[j] = z_rho * zind[j] + z_sd * e[1 + j]
    return macro


@njit(cache=True, error_model="numpy")
def cell_drift(s, k, mu, agg, common, zind, shortage, drift):
    """ODD 7.3, the part of a firm's growth rate its park-industry cell shares:
    ``mu_j - beta_rd - lambda*s + a_pj + c + z_j``, into ``drift`` (cell ``p*J + j``). Mesa:
    ``RegionModel.step``. Returns the R&D coefficient ``beta_rd * m_rd * (1 - s) / rd_mean`` of
    the firm's own part."""
    base = -s[S_RD_EFFECT] - s[S_SHORTAGE_PENALTY] * shortage
    J = agg.shape[1]
    for p in range(agg.shape[0]):
        for j in range(J):
            drift[p * J + j] = mu[k, j] + base + agg[p, j] + common + zind[j]
    return s[S_RD_EFFECT] * (s[S_RD_MULT] / s[S_RD_MEAN]) * (1.0 - shortage)


@njit(cache=True, error_model="numpy")
def grow_firms(s, rd_coef, firm_drift, logy, rd, alive, eps, sig, y_new, hazard, above):
    """ODD 7.2, 7.3 and the hazard of 7.6 for a block of slots (``logy``, ``rd``, ``alive`` are
    the block's views; ``firm_drift`` and ``eps`` its cells' drifts and growth draws): every live
    firm's new log output (in place), its output, its exit hazard x dt as if no project matured
    (``settle_firms`` redoes the rare firms whose project does) and whether it was above-scale
    before. Mesa: the first lines of ``Firm.step``.

    Branch-free over all slots, dead ones included (they keep their log output, their other
    values are never read), so the compiler vectorizes it; and one exponential per loop, so the
    processor overlaps many slots' exponentials instead of waiting for one after the other."""
    dt, sqrt_dt, log_thr = s[S_DT], s[S_SQRT_DT], s[S_LOG_THR]
    sigma0, sigma_elast, log_sigma_ref = s[S_SIGMA0], s[S_SIGMA_ELAST], s[S_LOG_SIGMA_REF]
    sigma_max, exit_gamma, h0_dt = s[S_SIGMA_MAX], s[S_EXIT_GAMMA], s[S_EXIT_H0] * dt
    n = logy.size
    for m in range(n):
        ly = logy[m]
        above[m] = ly >= log_thr
        sig[m] = min(sigma0 * exp_fast(-sigma_elast * (ly - log_sigma_ref)), sigma_max)
    for m in range(n):
        ly = logy[m]
        g = firm_drift[m] + rd_coef * rd[m] - 0.5 * sig[m] * sig[m]
        x = ly + g * dt + sig[m] * sqrt_dt * eps[m]
        logy[m] = x if alive[m] == 1 else ly
        y_new[m] = exp_fast(x)
    for m in range(n):
        hazard[m] = h0_dt * exp_fast(-exit_gamma * (logy[m] - log_thr))


@njit(cache=True, error_model="numpy")
def settle_firms(s, k, lo, y_new, hazard, above_before, logy, cell, park, rd, age, alive, busy,
                 clock, pipe, pipe_t, stake, stake_t, stake_f, cash, stakes, pending_land,
                 elig_list, elig_wlist, tally, lanes, counts):
    """ODD 7.4-7.7 for the live firms of a block of slots starting at ``lo`` (the firm arrays are
    the block's views), in slot order: pipeline maturity, fund exit, firm exit, then the
    survivors' contributions to the step's totals (``lanes``, by slot mod 4 and cell) and counts
    (``counts``: alive, above-scale, over 10, over 100, eligible, crossings). Mesa: the rest of
    ``Firm.step`` and ``RegionModel.record_firm``."""
    dt, log_thr = s[S_DT], s[S_LOG_THR]
    # Loop-invariant scalars in locals (the compiler cannot hoist loads from `s` past the stores
    # into the firm arrays).
    exit_gamma, big1, big2 = s[S_EXIT_GAMMA], s[S_BIG1], s[S_BIG2]
    hold, theta, h0_dt = s[S_HOLD_STEPS], s[S_SELECT_EXP], s[S_EXIT_H0] * dt
    now = k + 1
    n_alive, n_above, n10, n100, n_elig, crossings = (counts[0], counts[1], counts[2],
                                                      counts[3], counts[4], counts[5])
    for i in range(logy.size):
        if alive[i] == 0:
            continue
        y, h = y_new[i], hazard[i]
        if busy[i] == 1:
            p = park[i]
            # 7.4 pipeline maturity: the project's output joins the grown output
            if pipe[i] > 0.0 and now >= pipe_t[i]:
                ly = math.log(y + pipe[i])
                logy[i] = ly
                y = exp_fast(ly)
                h = h0_dt * exp_fast(-exit_gamma * (ly - log_thr))
                pending_land[p] -= pipe[i]
                pipe[i] = 0.0
            # 7.5 fund exit
            if stake[i] > 0.0 and now - stake_t[i] >= hold:
                back = stake[i] * s[S_EXIT_MULT]
                tally[T_FUND_EXIT_PROCEEDS] += back
                if s[S_RECYCLE] > 0:
                    cash[stake_f[i]] += back
                stakes[0] -= stake[i]
                stake[i] = 0.0
            if pipe[i] == 0.0 and stake[i] == 0.0:
                busy[i] = 0
        # 7.6 firm exit: the firm's exponential clock runs down by its hazard h(y) dt; it exits
        # in the step the clock passes zero, so P(exit) = 1 - exp(-h dt) given survival so far.
        left = clock[i] - h
        clock[i] = left
        if left < 0.0:
            alive[i] = 0
            tally[T_EXITS] += 1
            if busy[i] == 1:
                if stake[i] > 0.0:
                    tally[T_FUND_WRITEOFFS] += stake[i]
                    stakes[0] -= stake[i]
                    stake[i] = 0.0
                if pipe[i] > 0.0:
                    pending_land[park[i]] -= pipe[i]
                pipe[i] = 0.0
                busy[i] = 0
            continue
        age[i] += dt
        # 7.7 tallies of the survivors
        c, lane = cell[i], (lo + i) & 3
        lanes[lane, 0, c] += y
        lanes[lane, 1, c] += 1.0
        lanes[lane, 3, 0] += rd[i] * y
        n_alive += 1
        ly = logy[i]
        if ly >= log_thr:
            n_above += 1
            lanes[lane, 2, c] += y
            crossings += 1 - above_before[i]
            n10 += y >= big1
            n100 += y >= big2
            elig_list[n_elig] = lo + i
            elig_wlist[n_elig] = selection_weight(y, ly, theta)
            n_elig += 1
    counts[0], counts[1], counts[2], counts[3], counts[4], counts[5] = (n_alive, n_above, n10,
                                                                       n100, n_elig, crossings)


#: Slots per block of the firm step: its per-slot hand-over (draws, outputs, hazards) stays in
#: the first-level cache between the three passes.
BLOCK = 512


@njit(cache=True, error_model="numpy")
def step_firms(s, k, drift, rd_coef, growth, raw, n_live, logy, cell, park, rd, age, alive, busy,
               clock, pipe, pipe_t, stake, stake_t, stake_f, n_used, cash, stakes, pending_land,
               cell_out, cell_n, land_used, ind_out, park_out, elig_list, elig_wlist, tally,
               lanes, blk):
    """ODD 7.2-7.7, every live firm in slot order: volatility, growth, pipeline maturity, fund
    exit, firm exit, then the step's totals of the survivors. Mesa: ``Firm.step`` and
    ``RegionModel.record_firm``. Returns (alive, above-scale, over 10, over 100, R&D-weighted
    output, eligible) counts of the step.

    Block by block of :data:`BLOCK` slots, three passes: the growth draws (``growth_normals``),
    the vectorized growth (``grow_firms``) and the rest (``settle_firms``). The totals are summed
    in four interleaved partial sums (``lanes``, by slot mod 4), cell by cell, then added up:
    consecutive firms mostly share a cell, and one running sum per cell would make every firm
    wait for the previous firm's addition. (The Mesa engine sums firm by firm; the two orders
    differ by rounding only.)"""
    eps, firm_drift, sig, y_new, hazard = blk[0], blk[1], blk[2], blk[3], blk[4]
    above = np.zeros(BLOCK, np.int8)
    at = np.zeros(3, np.int64)
    at[2] = n_live
    counts = np.zeros(6, np.int64)
    lanes[:] = 0.0
    for lo in range(0, n_used, BLOCK):
        hi = min(lo + BLOCK, n_used)
        growth_normals(growth, raw, at, alive, lo, hi, eps)
        block_cells = cell[lo:hi]
        for m in range(hi - lo):
            firm_drift[m] = drift[block_cells[m]]
        grow_firms(s, rd_coef, firm_drift, logy[lo:hi], rd[lo:hi], alive[lo:hi], eps, sig,
                   y_new, hazard, above)
        settle_firms(s, k, lo, y_new, hazard, above, logy[lo:hi], cell[lo:hi], park[lo:hi],
                     rd[lo:hi], age[lo:hi], alive[lo:hi], busy[lo:hi], clock[lo:hi], pipe[lo:hi],
                     pipe_t[lo:hi], stake[lo:hi], stake_t[lo:hi], stake_f[lo:hi], cash, stakes,
                     pending_land, elig_list, elig_wlist, tally, lanes, counts)
    tally[T_CROSSINGS] += counts[5]
    J = cell_out.shape[1]
    for p in range(cell_out.shape[0]):
        for j in range(J):
            c = p * J + j
            out = (lanes[0, 0, c] + lanes[1, 0, c]) + (lanes[2, 0, c] + lanes[3, 0, c])
            above_out = (lanes[0, 2, c] + lanes[1, 2, c]) + (lanes[2, 2, c] + lanes[3, 2, c])
            cell_out[p, j] = out
            cell_n[p, j] = (lanes[0, 1, c] + lanes[1, 1, c]) + (lanes[2, 1, c] + lanes[3, 1, c])
            land_used[p] += out
            ind_out[j] += above_out
            park_out[p] += above_out
    demand = (lanes[0, 3, 0] + lanes[1, 3, 0]) + (lanes[2, 3, 0] + lanes[3, 3, 0])
    return counts[0], counts[1], counts[2], counts[3], demand, counts[4]


@njit(cache=True, error_model="numpy")
def update_agglomeration(s, agg, cell_out, prev_cell):
    """ODD 7.8: growth of each park-industry cell feeds its firms' next-step growth.
    Mesa: the agglomeration loop of ``RegionModel.step``."""
    dt = s[S_DT]
    for p in range(agg.shape[0]):
        for j in range(agg.shape[1]):
            if cell_out[p, j] > 0.0 and prev_cell[p, j] > 0.0:
                agg[p, j] = s[S_AGG_ALPHA] * (math.log(cell_out[p, j])
                                              - math.log(prev_cell[p, j])) / dt
            else:
                agg[p, j] = 0.0
            prev_cell[p, j] = cell_out[p, j]


@njit(cache=True, error_model="numpy")
def raise_capital(s, f_inflow, f_max_deals, cash, deals):
    """ODD 7.9: each fund adds its inflow and counts the deals it can close (bounded by its
    deployment capacity). Mesa: ``Fund.raise_capital``. Returns whether any fund has a deal."""
    any_deal = False
    for f in range(f_inflow.size):
        cash[f] += f_inflow[f] * s[S_DT]
        deals[f] = min(int(cash[f] / s[S_TICKET] + 1e-9), f_max_deals[f])
        if deals[f] > 0:
            any_deal = True
    return any_deal


@njit(cache=True, error_model="numpy")
def eligible_by_industry(ind, elig_list, elig_wlist, n_elig, elig_idx, elig_cum, elig_count,
                         elig_start):
    """ODD 7.9: the step's eligible firms grouped by industry (slot order within an industry)
    with cumulative selection weights. Mesa: ``RegionModel._eligible_by_industry``.

    Consecutive eligible firms mostly share an industry (the population is laid out by cell), so
    the count, the next position and the running sum of the current industry are kept in
    registers while it lasts rather than read back from memory for every firm; the sums are the
    same additions in the same order."""
    J = elig_count.size
    elig_count[:] = 0
    last, run = -1, 0
    for k_e in range(n_elig):
        j = ind[elig_list[k_e]]
        if j != last:
            if last >= 0:
                elig_count[last] = run
            last, run = j, elig_count[j]
        run += 1
    if last >= 0:
        elig_count[last] = run
    elig_start[0] = 0
    for j in range(J):
        elig_start[j + 1] = elig_start[j] + elig_count[j]
    elig_count[:] = 0
    last, pos, acc = -1, 0, 0.0
    for k_e in range(n_elig):
        i = elig_list[k_e]
        j = ind[i]
        if j != last:
            if last >= 0:
                elig_count[last] = pos - elig_start[last]
            last, pos = j, elig_start[j] + elig_count[j]
            if pos > elig_start[j]:
                acc = elig_cum[pos - 1]
        w = elig_wlist[k_e]
        acc = w if pos == elig_start[j] else acc + w
        elig_cum[pos] = acc
        elig_idx[pos] = i
        pos += 1
    if last >= 0:
        elig_count[last] = pos - elig_start[last]


@njit(cache=True, error_model="numpy")
def invest_funds(s, k, f_lev, f_alloc_cum, deals, cash, stakes, land, land_used, pending_land,
                 park, elig_idx, elig_cum, elig_count, elig_start, busy, stake, stake_t, stake_f,
                 pipe, pipe_t, rng_fund, tally):
    """ODD 7.9: each fund's deals, industry by allocation, firm by size^theta, project land,
    failure, then the stake and the pending project. Mesa: ``Fund.invest``."""
    J = elig_count.size
    ticket, lag = s[S_TICKET], s[S_LAG_STEPS]
    for f in range(deals.size):
        for _ in range(deals[f]):
            u1 = draw_uniform(rng_fund)
            u2 = draw_uniform(rng_fund)
            u3 = draw_uniform(rng_fund)
            j = 0
            while j < J and f_alloc_cum[f, j] <= u1:
                j += 1
            if j >= J or elig_count[j] == 0:
                continue
            lo, hi = elig_start[j], elig_start[j] + elig_count[j] - 1
            target = u2 * elig_cum[hi]
            while lo < hi:
                mid = (lo + hi) // 2
                if elig_cum[mid] <= target:
                    lo = mid + 1
                else:
                    hi = mid
            i = elig_idx[lo]
            if stake[i] > 0.0 and stake_f[i] != f:
                continue  # one fund per firm: no follow-on into another fund's stake
            added = ticket * (1.0 + f_lev[f]) * s[S_KAPPA] * s[S_ADDITIONALITY]
            p = park[i]
            if land[p] - land_used[p] - pending_land[p] < added:
                tally[T_FUND_DEALS_BLOCKED] += 1  # no park land for the project: the money waits
                continue
            cash[f] -= ticket
            tally[T_FUND_INVESTED] += ticket
            tally[T_CO_INVESTMENT] += ticket * f_lev[f]
            if u3 < s[S_FAILURE]:
                tally[T_FUND_PROJECTS_FAILED] += 1  # the project never produces; money lost
                tally[T_FUND_WRITEOFFS] += ticket
                continue
            invest(i, f, ticket, k + 1, added, lag, stake, stake_t, stake_f, pipe, pipe_t)
            busy[i] = 1
            pending_land[p] += added
            stakes[0] += ticket


@njit(cache=True, error_model="numpy")
def events_within_guard(n, cap, tally):
    """Iteration guard: at most one firm table's worth of entry events per step and cell. A rate
    pushed to absurd values (``attraction: 1e9``) would otherwise loop for hours over entries that
    could never be placed; the excess is counted as dropped, as a full table would drop it.
    Ordinary runs draw far fewer events, so their random streams are unchanged."""
    if n > cap:
        tally[T_ENTRIES_DROPPED] += n - cap
        return cap
    return n


@njit(cache=True, error_model="numpy")
def spawn_startups(s, allowed, land, land_used, cell_n, n_used, logy, ind, park, rd, age, alive,
                   cell, busy, clock, pipe, pipe_t, stake, stake_t, stake_f, rng_entry, rng_exit,
                   tally):
    """ODD 7.10: start-ups in every park-industry cell the park may host, blocked where the
    park's land is used up. Mesa: ``Park.spawn_startups``. Returns the slots used."""
    cap = logy.size
    dt = s[S_DT]
    for p in range(allowed.shape[0]):
        for j in range(allowed.shape[1]):
            if allowed[p, j] == 0:
                continue
            lam = (s[S_STARTUP_RATE] * cell_n[p, j] + s[S_STARTUP_FLOOR]) * dt
            for _ in range(events_within_guard(draw_poisson(rng_entry, lam), cap, tally)):
                size = math.exp(s[S_LOG_STARTUP_SIZE]
                                + s[S_STARTUP_LOG_SD] * draw_normal(rng_entry))
                rd_new = new_rd(s, draw_normal(rng_entry))
                if land_used[p] + size > land[p]:
                    tally[T_ENTRIES_BLOCKED] += 1
                elif n_used >= cap:
                    tally[T_ENTRIES_DROPPED] += 1
                else:
                    add_firm(n_used, size, j, p, allowed.shape[1], rd_new, logy, ind, park, rd,
                             age, alive, cell, busy, clock, pipe, pipe_t, stake, stake_t,
                             stake_f, rng_exit)
                    land_used[p] += size
                    n_used += 1
                    tally[T_ENTRIES_STARTUP] += 1
    return n_used


@njit(cache=True, error_model="numpy")
def attract_projects(s, allowed, land, land_used, attract_cum, n_used, logy, ind, park, rd, age,
                     alive, cell, busy, clock, pipe, pipe_t, stake, stake_t, stake_f, rng_entry,
                     rng_exit, tally):
    """ODD 7.11: attracted projects (招商引资), placed in a park with room, chosen in proportion
    to its free land. Mesa: ``RegionModel._attract_projects``. Returns the slots used."""
    cap = logy.size
    P, J = allowed.shape
    for _ in range(events_within_guard(draw_poisson(rng_entry, s[S_ATTRACT_RATE] * s[S_DT]), cap,
                                       tally)):
        u1 = draw_uniform(rng_entry)
        u2 = draw_uniform(rng_entry)
        rd_new = new_rd(s, draw_normal(rng_entry))
        u3 = draw_uniform(rng_entry)
        j = 0
        while j < J - 1 and attract_cum[j] <= u1:
            j += 1
        size = s[S_ATTRACT_SIZE] * (1.0 - u2) ** (-1.0 / s[S_ATTRACT_ALPHA])
        if size > s[S_ATTRACT_CAP]:
            size = s[S_ATTRACT_CAP]
        free_total = 0.0
        for p in range(P):
            if allowed[p, j] == 1 and land[p] - land_used[p] >= size:
                free_total += land[p] - land_used[p]
        if free_total <= 0.0:
            tally[T_ENTRIES_BLOCKED] += 1
            continue
        target = u3 * free_total
        chosen = -1
        acc = 0.0
        for p in range(P):
            if allowed[p, j] == 1 and land[p] - land_used[p] >= size:
                acc += land[p] - land_used[p]
                chosen = p
                if acc > target:
                    break
        if n_used >= cap:
            tally[T_ENTRIES_DROPPED] += 1
            continue
        add_firm(n_used, size, j, chosen, J, rd_new, logy, ind, park, rd, age, alive, cell, busy,
                 clock, pipe, pipe_t, stake, stake_t, stake_f, rng_exit)
        land_used[chosen] += size
        n_used += 1
        tally[T_ENTRIES_ATTRACTED] += 1
    return n_used


@njit(cache=True, error_model="numpy")
def update_talent(s, t, talent, tau0, demand):
    """ODD 7.12: talent inflow grows, a share leaves; demand follows output and R&D effort.
    Mesa: the talent lines of ``RegionModel.step``. Returns (stock, demand, shortage)."""
    inflow = s[S_TALENT_INFLOW0] * math.exp(s[S_TALENT_GROWTH] * t)
    talent += (inflow - s[S_TALENT_ATTRITION] * talent) * s[S_DT]
    need = tau0 * s[S_RD_MULT] * demand * math.exp(-s[S_PROD_GROWTH] * t)
    shortage = 1.0 - talent / need if need > talent else 0.0
    return talent, need, shortage


@njit(cache=True, error_model="numpy")
def step_rest_of_economy(s, common, e, log_nonsei, log_serv, log_rest, ann_serv, row):
    """ODD 7.13: non-SEI industry (comparable sample, 7.17), each SEI services industry and GDP
    outside industry. Mesa: the rest-of-economy lines of ``RegionModel.step``. Returns (log
    non-SEI, log rest, services total); services accumulate into their rows here."""
    dt, sqrt_dt = s[S_DT], s[S_SQRT_DT]
    J = e.size - 3 - log_serv.size
    NS = log_serv.size
    log_nonsei += ((s[S_NONSEI_G] - 0.5 * s[S_NONSEI_SIGMA] ** 2 + common) * dt
                   + s[S_NONSEI_SIGMA] * sqrt_dt * e[1 + J])
    serv_total = 0.0
    for q in range(NS):
        log_serv[q] += ((s[S_SERV_G] - 0.5 * s[S_SERV_SIGMA] ** 2 + common) * dt
                        + s[S_SERV_SIGMA] * sqrt_dt * e[2 + J + q])
        v = math.exp(log_serv[q])
        ann_serv[row, q] += v * dt
        serv_total += v
    log_rest += ((s[S_GDP_G] - 0.5 * s[S_GDP_SIGMA] ** 2 + common) * dt
                 + s[S_GDP_SIGMA] * sqrt_dt * e[2 + J + NS])
    return log_nonsei, log_rest, serv_total


@njit(cache=True, error_model="numpy")
def simulate(s, mu, allowed, land, attract_cum, f_inflow, f_lev, f_alloc_cum, f_max_deals, serv0,
             shift, spy, n_years, logy, ind, park, rd, age, alive, pipe, pipe_t, stake, stake_t,
             stake_f, n_used, rng_macro, growth, rng_exit, rng_fund, rng_entry,
             ann, ann_ind, ann_park, ann_serv, history, work, work_i, cell, busy, raw):
    """One replication: the schedule of ODD 3, one call per submodel, in the order of
    ``RegionModel.step``. ``rng_macro`` ... ``rng_entry`` (``growth`` the growth stream) are the
    streams' PCG64 states (four words each, advanced); ``work`` ... ``raw`` a workspace of
    :func:`new_workspace` of at least the table's capacity. Returns the number of firm slots
    used."""
    J, P, F, NS = mu.shape[1], land.size, f_inflow.size, serv0.size
    cap = logy.size
    dt = s[S_DT]
    tau0 = record_row0(s, logy, ind, park, rd, alive, n_used, serv0, ann, ann_ind, ann_park,
                       ann_serv, history)

    # Aggregate state.
    e0 = draw_normals(rng_macro, 1 + J)
    macro = s[S_MACRO_SIGMA] * e0[0]
    zind = np.empty(J)
    for j in range(J):
        zind[j] = s[S_IND_SIGMA] * e0[1 + j]
    log_nonsei = math.log(s[S_NONSEI0])
    log_serv = np.empty(NS)
    for q in range(NS):
        log_serv[q] = math.log(serv0[q]) if serv0[q] > 0 else -np.inf
    log_rest = math.log(s[S_GDP_REST0])
    talent = s[S_TALENT0]
    shortage = 0.0
    cash = np.zeros(F)
    stakes = np.zeros(1)                     # fund money held in firms
    agg = np.zeros((P, J))
    prev_cell = np.zeros((P, J))
    for i in range(n_used):
        if alive[i] == 1:
            prev_cell[park[i], ind[i]] += math.exp(logy[i])

    # Per-firm scratch (the workspace's first ``cap`` slots).
    clock = work[W_CLOCK, :cap]
    elig_wlist, elig_cum = work[W_ELIG_W, :cap], work[W_ELIG_CUM, :cap]
    elig_list, elig_idx = work_i[I_ELIG, :cap], work_i[I_ELIG_BY_IND, :cap]
    busy = busy[:cap]
    cell = cell[:cap]
    raw = raw[:BLOCK]                        # the growth stream's outputs, a block at a time
    blk = np.zeros((5, BLOCK))               # step_firms' hand-over between its passes
    n_live = 0
    for i in range(n_used):
        cell[i] = park[i] * J + ind[i]
        busy[i] = 0
        n_live += alive[i]
        # Each initial firm's exit clock (7.6), in slot order; entrants draw theirs in add_firm.
        clock[i] = draw_exponential(rng_exit)

    drift = np.empty(P * J)
    cell_out = np.zeros((P, J))
    cell_n = np.zeros((P, J))
    land_used = np.zeros(P)
    pending_land = np.zeros(P)               # land promised to fund-backed projects not yet built
    ind_out = np.zeros(J)
    park_out = np.zeros(P)
    lanes = np.zeros((4, 4, P * J))          # partial sums of step_firms
    elig_count = np.zeros(J, np.int64)
    elig_start = np.zeros(J + 1, np.int64)
    deals = np.zeros(F, np.int64)
    tally = np.zeros(len(STEP_TALLY))

    for k in range(n_years * spy):
        t = (k + 1) * dt
        row = k // spy + 1
        e = draw_normals(rng_macro, 3 + J + NS)
        macro = update_shocks(s, macro, zind, e)
        common = macro + shift[k]
        rd_coef = cell_drift(s, k, mu, agg, common, zind, shortage, drift)
        cell_out[:, :] = 0.0
        cell_n[:, :] = 0.0
        land_used[:] = 0.0
        ind_out[:] = 0.0
        park_out[:] = 0.0
        tally[:] = 0.0
        n_alive, n_above, n10, n100, demand, n_elig = step_firms(
            s, k, drift, rd_coef, growth, raw, n_live, logy, cell, park, rd, age, alive, busy,
            clock, pipe, pipe_t, stake, stake_t, stake_f, n_used, cash, stakes, pending_land,
            cell_out, cell_n, land_used, ind_out, park_out, elig_list, elig_wlist, tally, lanes,
            blk)
        update_agglomeration(s, agg, cell_out, prev_cell)
        if raise_capital(s, f_inflow, f_max_deals, cash, deals):
            eligible_by_industry(ind, elig_list, elig_wlist, n_elig, elig_idx, elig_cum,
                                 elig_count, elig_start)
            invest_funds(s, k, f_lev, f_alloc_cum, deals, cash, stakes, land, land_used,
                         pending_land, park, elig_idx, elig_cum, elig_count, elig_start, busy,
                         stake, stake_t, stake_f, pipe, pipe_t, rng_fund, tally)
        n_used = spawn_startups(s, allowed, land, land_used, cell_n, n_used, logy, ind, park, rd,
                                age, alive, cell, busy, clock, pipe, pipe_t, stake, stake_t,
                                stake_f, rng_entry, rng_exit, tally)
        n_used = attract_projects(s, allowed, land, land_used, attract_cum, n_used, logy, ind,
                                  park, rd, age, alive, cell, busy, clock, pipe, pipe_t, stake,
                                  stake_t, stake_f, rng_entry, rng_exit, tally)
        n_live = n_alive + int(tally[T_ENTRIES_STARTUP]) + int(tally[T_ENTRIES_ATTRACTED])
        talent, need, shortage = update_talent(s, t, talent, tau0, demand)
        log_nonsei, log_rest, serv_total = step_rest_of_economy(
            s, common, e, log_nonsei, log_serv, log_rest, ann_serv, row)
        accumulate(s, ann, ann_ind, ann_park, row, ind_out, park_out, log_nonsei, serv_total,
                   log_rest, shortage, macro, tally)
        if (k + 1) % spy == 0:
            close_year(ann, row, n_above, n10, n100, n_alive, talent, need, cash, stakes[0],
                       logy, alive, n_used, history)
    return n_used


@njit(cache=True, error_model="numpy")
def accumulate(s, ann, ann_ind, ann_park, row, ind_out, park_out, log_nonsei, serv_total,
               log_rest, shortage, macro, tally):
    """ODD 7.14: the step's flows (x dt) and tallies into the year's row. Mesa: the
    accumulation lines of ``RegionModel.step``."""
    dt = s[S_DT]
    sei = 0.0
    for j in range(ind_out.size):
        sei += ind_out[j]
        ann_ind[row, j] += ind_out[j] * dt
    for p in range(park_out.size):
        ann_park[row, p] += park_out[p] * dt
    ann[row, A_SEI_INDUSTRIAL_OUTPUT] += sei * dt
    ann[row, A_NONSEI_OUTPUT_COMPARABLE] += math.exp(log_nonsei) * dt
    ann[row, A_SEI_SERVICES_OUTPUT] += serv_total * dt
    ann[row, A_GDP_REST] += math.exp(log_rest) * dt
    ann[row, A_TALENT_SHORTAGE] += shortage * dt
    ann[row, A_MACRO_SHOCK] += macro * dt
    for t in range(tally.size):
        ann[row, TALLY_COLUMNS[t]] += tally[t]


@njit(cache=True, error_model="numpy")
def close_year(ann, row, n_above, n10, n100, n_alive, talent, need, cash, stakes_total, logy,
               alive, n_used, history):
    """ODD 7.14: year-end stocks and counts at the year's last step. Mesa: the year-end block of
    ``RegionModel.step``."""
    ann[row, A_ABOVE_SCALE_FIRMS] = n_above
    ann[row, A_FIRMS_OVER_10] = n10
    ann[row, A_FIRMS_OVER_100] = n100
    ann[row, A_ALIVE_FIRMS] = n_alive
    ann[row, A_TALENT_STOCK] = talent
    ann[row, A_TALENT_DEMAND] = need
    cash_total = 0.0
    for f in range(cash.size):
        cash_total += cash[f]
    ann[row, A_FUND_CASH] = cash_total
    ann[row, A_FUND_STAKES] = stakes_total
    if history.shape[0] > 0:
        for i in range(n_used):
            history[row, i] = math.exp(logy[i]) if alive[i] == 1 else 0.0


@njit(cache=True, error_model="numpy")
def new_rd(s, z):
    """R&D intensity of a new firm (ODD 5.3 step 6). Mesa: ``RegionModel.new_rd``."""
    return s[S_RD_MEAN] * math.exp(s[S_RD_LOG_SD] * z - 0.5 * s[S_RD_LOG_SD] ** 2)


@njit(cache=True, error_model="numpy")
def invest(i, f, ticket, now, added_output, lag, stake, stake_t, stake_f, pipe, pipe_t):
    """A fund deal in firm i. A firm already holding a stake receives a follow-on: the stake and
    the pending project grow, their dates become amount-weighted averages (so follow-ons neither
    postpone nor hasten earlier money on average)."""
    stake_t[i] = (stake_t[i] * stake[i] + now * ticket) / (stake[i] + ticket)
    stake[i] += ticket
    stake_f[i] = f
    due = now + lag
    pipe_t[i] = (pipe_t[i] * pipe[i] + due * added_output) / (pipe[i] + added_output)
    pipe[i] += added_output


@njit(cache=True, error_model="numpy")
def selection_weight(y, ly, theta):
    """A firm's weight in fund selection, output^theta (exact shortcuts for common exponents)."""
    if theta == 0.5:
        return math.sqrt(y)
    if theta == 1.0:
        return y
    if theta == 0.0:
        return 1.0
    return math.exp(theta * ly)


@njit(cache=True, error_model="numpy")
def add_firm(i, size, j, p, J, rd_new, logy, ind, park, rd, age, alive, cell, busy, clock, pipe,
             pipe_t, stake, stake_t, stake_f, rng_exit):
    """A new firm in slot i, with its exit clock (7.6) drawn from the exit stream."""
    logy[i] = math.log(size)
    ind[i] = j
    park[i] = p
    cell[i] = p * J + j
    rd[i] = rd_new
    age[i] = 0.0
    alive[i] = 1
    busy[i] = 0
    clock[i] = draw_exponential(rng_exit)
    pipe[i] = 0.0
    pipe_t[i] = 0
    stake[i] = 0.0
    stake_t[i] = 0
    stake_f[i] = 0


# -- many replications in one call ---------------------------------------------------------------

#: ``nogil``: the batch releases the GIL while it runs, so the threads of the process that calls it
#: keep working (a Dask worker's event loop answers its scheduler; a notebook stays responsive).
@njit(cache=True, error_model="numpy", nogil=True)
def simulate_batch(config, S, MU, ALLOWED, LAND, ATTRACT, F_INFLOW, F_LEV, F_ALLOC, F_MAX_DEALS,
                   SERV0, SHIFT, POP, CELL, COUNTS, BIGS, PRICES_, spy, n_years, STREAMS,
                   first, caps, logy, ind, park, rd, age, alive, pipe, pipe_t, stake, stake_t,
                   stake_f, n_used, ANN, ANN_IND, ANN_PARK, ANN_SERV, hist_at, HIST):
    """Replications ``r = 0, 1, ...`` of configurations of one shape (industries, parks, funds,
    services, years): replication r runs configuration ``config[r]`` (row of the stacked inputs
    ``S ... PRICES_``, with its layout ``COUNTS``/``BIGS``) with the streams
    the PCG64 states ``STREAMS[r]`` (one row of four words per stream, :data:`KERNEL_STREAMS`
    order; advanced): its initial population, the run and its price levels. Its
    firms occupy slots ``first[r]:first[r] + caps[r]`` of the flat firm arrays (``n_used[r]`` of
    them used at the end), its annual rows are ``ANN[r]`` ..., and with per-firm history
    (``hist_at[-1] > 0``) its history is ``HIST[hist_at[r]:hist_at[r + 1]]`` as a
    (years + 1, slots) table. Replications may share slots (``first`` all 0, when the caller
    keeps no final firm table: one replication's memory for the whole batch, and no fresh pages
    to fault in): slots an earlier replication wrote are zeroed before the next one starts, so
    each starts from zeroed slots as in a fresh table, and the workspace is rewritten before it
    is read. Results do not depend on how replications are batched, nor on sharing."""
    rows = n_years + 1
    cap_max = 0
    for r in range(config.size):
        cap_max = max(cap_max, caps[r])
    work, work_i = np.zeros((N_WORK, cap_max)), np.zeros((2, cap_max), np.int64)
    cell, busy = np.zeros(cap_max, np.int32), np.zeros(cap_max, np.int8)
    raw = np.zeros(cap_max, np.uint64)
    written = 0  # slots below this may hold an earlier replication's firms
    for r in range(config.size):
        u = config[r]
        a = first[r]
        b = a + caps[r]
        for i in range(a, min(b, written)):
            logy[i], ind[i], park[i], rd[i], age[i], alive[i] = 0.0, 0, 0, 0.0, 0.0, 0
            pipe[i], pipe_t[i], stake[i], stake_t[i], stake_f[i] = 0.0, 0.0, 0.0, 0.0, 0
        st = STREAMS[r]
        n0 = synthesize_population(POP[u], CELL[u], COUNTS[u], BIGS[u], st[R_POPULATION],
                                   logy[a:b], ind[a:b], park[a:b], rd[a:b], age[a:b], alive[a:b])
        if hist_at[-1] > 0:
            history = HIST[hist_at[r]:hist_at[r + 1]].reshape((rows, b - a))
        else:
            history = np.zeros((0, 0))
        n_used[r] = simulate(
            S[u], MU[u], ALLOWED[u], LAND[u], ATTRACT[u], F_INFLOW[u], F_LEV[u], F_ALLOC[u],
            F_MAX_DEALS[u], SERV0[u], SHIFT[u], spy, n_years, logy[a:b], ind[a:b], park[a:b],
            rd[a:b], age[a:b], alive[a:b], pipe[a:b], pipe_t[a:b], stake[a:b], stake_t[a:b],
            stake_f[a:b], n0, st[R_MACRO], st[R_GROWTH], st[R_EXIT],
            st[R_FUND], st[R_ENTRY], ANN[r], ANN_IND[r], ANN_PARK[r],
            ANN_SERV[r], history, work, work_i, cell, busy, raw)
        written = max(written, a + n_used[r])
        price_levels(PRICES_[u], n_years, st[R_PRICES], ANN[r])
