"""A synthetic bank table: card customers and transactions, with rare defaults and rarer fraud.

No package installed here ships a real credit or fraud data set offline (scikit-learn
bundles only iris, wine, digits, breast cancer, diabetes and linnerud; its credit data must
be downloaded), so this generator makes one whose every rule is written down below. It has
what makes the real tables hard:

* **heavy imbalance**: about 2 % of customers default, about 1 % of transactions are fraud;
* **mixed feature types**: heavy-tailed amounts (on a log scale), a time of day, counts,
  a bounded ratio, binary flags, a one-hot category, and pure-noise columns;
* **two kinds of signal**: the default risk is nearly additive in the features (what
  logistic regression, the credit-scoring standard, captures), while fraud hides in
  *interactions* (a large amount at night, abroad and online; a new account making an
  unusually large purchase) and a time-of-day band, which a linear score cannot express;
* **known truth**: the true probability of each label is returned, so a model's ranking
  and calibration can be compared with the best possible.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = ["CREDIT_FEATURES", "CreditData", "make_credit"]

_FN = "make_credit"
_MERCHANTS = ("grocery", "travel", "electronics", "other")

#: The columns of ``CreditData.x``, in order.
CREDIT_FEATURES = (
    "log_amount",  # ln of the transaction amount
    "log_amount_ratio",  # ln(amount / the customer's usual amount)
    "hour",  # time of day in [0, 24)
    "account_age_months",
    "utilisation",  # card balance / credit limit, in [0, 1.2]
    "log_income",
    "late_payments",  # count over the last year
    "foreign",  # 0/1
    "online",  # 0/1
    *(f"merchant_{m}" for m in _MERCHANTS),  # one-hot
    "noise_0",
    "noise_1",
    "noise_2",
)


class CreditData(NamedTuple):
    """The table and its two labels (unpacks as a tuple).

    Attributes:
        x: float32 (N, 16) features, columns :data:`CREDIT_FEATURES`, in natural units
            (standardise them before a network).
        default: int64 (N,), 1 when the customer defaults within the year.
        fraud: int64 (N,), 1 when the transaction is fraudulent.
        p_default, p_fraud: float64 (N,), the true probabilities the labels were drawn from.
    """

    x: np.ndarray
    default: np.ndarray
    fraud: np.ndarray
    p_default: np.ndarray
    p_fraud: np.ndarray


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))


def _intercept_for_rate(logit: np.ndarray, rate: float) -> float:
    """The b with mean σ(logit + b) = rate (bisection: the mean rises with b)."""
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _sigmoid(logit + mid).mean() < rate else (lo, mid)
    return 0.5 * (lo + hi)


def make_credit(
    n_samples: int = 20000,
    default_rate: float = 0.02,
    fraud_rate: float = 0.01,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> CreditData:
    """Customers with one transaction each, labelled for default and for fraud.

    Features (per row, independent draws unless said otherwise):

    - log_income ~ N(10.5, 0.5); utilisation ~ 1.2·Beta(2, 5); late_payments ~ Poisson(
      0.3 + 2·utilisation²); account_age_months ~ Exponential(36);
    - usual amount: ln ~ N(3.5, 0.8); log_amount_ratio ~ N(0, 0.6), with probability 0.05
      a splurge of +1.5 more; log_amount = ln usual + ratio;
    - hour: mostly by day (N(14, 4) folded into [0, 24)), 15 % uniform over the day;
    - foreign ~ Bernoulli(0.08), online ~ Bernoulli(0.4), merchant one of grocery 40 %,
      travel 10 %, electronics 15 %, other 35 % (one-hot); three N(0, 1) noise columns.

    Labels, with a = utilisation, z = (log_income − 10.5)/0.5, m = log_amount_ratio,
    night = [hour < 6], new = [account_age_months < 3]:

        logit P(default) = b_d + 3·a + 0.7·late_payments − 0.8·z − 0.01·account_age_months
        logit P(fraud)   = b_f + 0.8·m + 1.2·night + 0.8·foreign + 0.6·electronics
                           + 2.5·night·foreign·online + 2.0·new·[m > 1] − 0.5·grocery

    b_d and b_f are set (by bisection) so that the *mean* probabilities are
    ``default_rate`` and ``fraud_rate``; each label is then one Bernoulli draw, so the
    counts vary around those rates.

    Args:
        n_samples: number of rows (default: 20000).
        default_rate: mean probability of default, in (0, 1) (default: 0.02).
        fraud_rate: mean probability of fraud, in (0, 1) (default: 0.01).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        :class:`CreditData` ``(x, default, fraud, p_default, p_fraud)``.

    Example:
        >>> data = make_credit(50000, seed=0)
        >>> data.x.shape, len(CREDIT_FEATURES)
        ((50000, 16), 16)
        >>> round(float(data.p_fraud.mean()), 4), round(float(data.p_default.mean()), 4)
        (0.01, 0.02)
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"{_FN}: n_samples must be an int, got {n_samples!r}")
    if n_samples < 2:
        raise ValueError(f"{_FN}: n_samples must be >= 2, got {n_samples}")
    for name, rate in (("default_rate", default_rate), ("fraud_rate", fraud_rate)):
        if not 0 < rate < 1:
            raise ValueError(f"{_FN}: {name} must be in (0, 1), got {rate}")
    rng = _seeded_rng(_FN, seed, generator)
    n = int(n_samples)

    log_income = rng.normal(10.5, 0.5, n)
    utilisation = 1.2 * rng.beta(2, 5, n)
    late = rng.poisson(0.3 + 2 * utilisation**2).astype(np.float64)
    age = rng.exponential(36, n)
    ratio = rng.normal(0, 0.6, n) + 1.5 * (rng.uniform(size=n) < 0.05)
    log_amount = rng.normal(3.5, 0.8, n) + ratio
    by_day = np.mod(rng.normal(14, 4, n), 24)
    hour = np.where(rng.uniform(size=n) < 0.15, rng.uniform(0, 24, n), by_day)
    foreign = (rng.uniform(size=n) < 0.08).astype(np.float64)
    online = (rng.uniform(size=n) < 0.4).astype(np.float64)
    merchant = rng.choice(len(_MERCHANTS), size=n, p=[0.4, 0.1, 0.15, 0.35])
    one_hot = np.eye(len(_MERCHANTS))[merchant]
    noise = rng.standard_normal((n, 3))

    z_income = (log_income - 10.5) / 0.5
    night = (hour < 6).astype(np.float64)
    new = (age < 3).astype(np.float64)
    grocery, electronics = one_hot[:, 0], one_hot[:, 2]
    default_logit = 3 * utilisation + 0.7 * late - 0.8 * z_income - 0.01 * age
    fraud_logit = (
        0.8 * ratio
        + 1.2 * night
        + 0.8 * foreign
        + 0.6 * electronics
        + 2.5 * night * foreign * online
        + 2.0 * new * (ratio > 1)
        - 0.5 * grocery
    )
    p_default = _sigmoid(default_logit + _intercept_for_rate(default_logit, default_rate))
    p_fraud = _sigmoid(fraud_logit + _intercept_for_rate(fraud_logit, fraud_rate))
    default = (rng.uniform(size=n) < p_default).astype(np.int64)
    fraud = (rng.uniform(size=n) < p_fraud).astype(np.int64)

    columns = [log_amount, ratio, hour, age, utilisation, log_income, late, foreign, online]
    x = np.column_stack([*columns, one_hot, noise]).astype(np.float32)
    return CreditData(x, default, fraud, p_default, p_fraud)
