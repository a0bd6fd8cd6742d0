"""The tests an A/B result rests on: a difference, its interval, and how likely noise made it.

- rates (conversion, click-through): the two-proportion z-test, with a Wald interval for the
  difference;
- means per shopper (revenue): Welch's t-test (unequal variances; Welch-Satterthwaite degrees
  of freedom), computed from each arm's count, sum and sum of squares, so the rollups never
  hand over a list of shoppers.

The relative lift's interval uses the delta method (the control's own noise included). Plain
Python and the standard library (``statistics.NormalDist``, ``math.lgamma``): the admin's web
process imports nothing heavy to show a result.

Example::

    rates(30, 1000, 45, 1000).p_value    # about 0.08: not a winner at 95 %
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Comparison:
    """Arm B against arm A (the control): B's value minus A's, with its interval and p-value."""

    control: float
    value: float
    difference: float
    low: float
    high: float
    lift: float | None  # relative: difference / control; None when the control is 0
    lift_low: float | None
    lift_high: float | None
    p_value: float
    test: str

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha


def _lift(a: float, b: float, var_a: float, var_b: float, z: float) -> tuple[float | None, ...]:
    if a <= 0:
        return None, None, None
    ratio = b / a
    # delta method for b / a with independent arms
    se = math.sqrt(var_b / a**2 + (b**2) * var_a / a**4)
    return ratio - 1, ratio - 1 - z * se, ratio - 1 + z * se


def rates(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float = 0.95) -> Comparison | None:
    """Two-proportion z-test of ``x_b / n_b`` against ``x_a / n_a``; None without data in an arm."""
    if n_a <= 0 or n_b <= 0:
        return None
    p_a, p_b = x_a / n_a, x_b / n_b
    z = _NORMAL.inv_cdf(0.5 + confidence / 2)
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = p_b - p_a
    p_value = 1.0 if se_pooled == 0 else 2 * (1 - _NORMAL.cdf(abs(diff) / se_pooled))
    var_a, var_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
    se = math.sqrt(var_a + var_b)
    lift, lift_low, lift_high = _lift(p_a, p_b, var_a, var_b, z)
    return Comparison(
        p_a,
        p_b,
        diff,
        diff - z * se,
        diff + z * se,
        lift,
        lift_low,
        lift_high,
        p_value,
        "two-proportion z-test",
    )


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of one arm's per-shopper values."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total**2 / self.n) / (self.n - 1))


def means(a: Moments, b: Moments, confidence: float = 0.95) -> Comparison | None:
    """Welch's t-test of B's mean against A's; None unless both arms have two shoppers."""
    if a.n < 2 or b.n < 2:
        return None
    va, vb = a.variance / a.n, b.variance / b.n
    diff = b.mean - a.mean
    se = math.sqrt(va + vb)
    if se == 0:
        p_value, df = (1.0 if diff == 0 else 0.0), float(a.n + b.n - 2)
    else:
        df = (va + vb) ** 2 / ((va**2 / (a.n - 1) if va else 0) + (vb**2 / (b.n - 1) if vb else 0))
        p_value = 2 * t_sf(abs(diff) / se, df)
    t = t_quantile(0.5 + confidence / 2, df)
    lift, lift_low, lift_high = _lift(a.mean, b.mean, va, vb, t)
    return Comparison(
        a.mean,
        b.mean,
        diff,
        diff - t * se,
        diff + t * se,
        lift,
        lift_low,
        lift_high,
        p_value,
        "Welch's t-test",
    )


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (t >= 0)."""
    if not math.isfinite(df) or df > 1e7:
        return 1 - _NORMAL.cdf(t)
    x = df / (df + t * t)
    return 0.5 * _betainc(df / 2, 0.5, x)


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (p > 0.5), by bisection on :func:`t_sf`."""
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > 1 - p:
        hi *= 2
        if hi > 1e6:
            return hi
    for _ in range(80):
        mid = (lo + hi) / 2
        if t_sf(mid, df) > 1 - p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (Lentz's continued fraction)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return front * h / a
