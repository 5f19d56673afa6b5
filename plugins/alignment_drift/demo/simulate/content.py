"""A simulated content platform whose safety classifier decides what users see.

The generative world behind every scenario. Each item has inputs the model
sees (toxicity, sensationalism, report rate, author reputation, text length,
category, source type), a segment (region), a latent ground truth ``unsafe``
(the target T, known after moderator review of a random sample) and a user
response ``engaged`` (the proxy O, observed only for items that were shown).
Users engage more with sensational content, and sensational content is more
often unsafe: optimising engagement erodes safety.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL_FEATURES",
    "CATEGORIES",
    "FEATURES",
    "NUMERIC_FEATURES",
    "REGIONS",
    "SOURCES",
    "Population",
    "draw_items",
]

CATEGORIES = ("news", "entertainment", "politics", "sports", "lifestyle")
SOURCES = ("verified", "unverified", "new_account")
REGIONS = ("na", "eu", "apac", "latam")
NUMERIC_FEATURES = ("toxicity", "sensationalism", "report_rate", "author_reputation", "text_length")
CATEGORICAL_FEATURES = ("category", "source_type")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES

_BASE_CATEGORY_P = (0.25, 0.25, 0.15, 0.20, 0.15)
_BASE_SOURCE_P = (0.50, 0.35, 0.15)
_REGION_P = (0.35, 0.30, 0.20, 0.15)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Population:
    """The parameters of the item population on one night.

    ``sensational_shift`` moves the sensationalism of new content (creators
    chasing what gets shown); ``category_p`` and ``source_p`` are the mixes.
    """

    sensational_shift: float = 0.0
    category_p: tuple[float, ...] = _BASE_CATEGORY_P
    source_p: tuple[float, ...] = _BASE_SOURCE_P
    report_missing_rate: float = 0.03


def draw_items(rng: np.random.Generator, n: int, population: Population = Population()) -> pd.DataFrame:
    """Draw ``n`` items with their inputs, segment, target and engagement propensity.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness (seed it for reproducible data).
    n : int
        Number of items.
    population : Population
        The night's population parameters.

    Returns
    -------
    pandas.DataFrame
        The feature columns, ``region``, ``unsafe`` (0/1) and the private
        column ``_engage_p`` (the probability a user engages if shown).

    Examples
    --------
    >>> items = draw_items(np.random.default_rng(0), 1000)
    >>> 0.1 < items["unsafe"].mean() < 0.35
    True
    """
    category = rng.choice(np.array(CATEGORIES), size=n, p=np.array(population.category_p))
    source = rng.choice(np.array(SOURCES), size=n, p=np.array(population.source_p))
    region = rng.choice(np.array(REGIONS), size=n, p=np.array(_REGION_P))
    is_ent = category == "entertainment"
    is_pol = category == "politics"
    is_new = source == "new_account"
    is_unv = source == "unverified"

    sens_logit = -1.0 + population.sensational_shift + 0.5 * is_ent + 0.3 * is_pol + rng.normal(0.0, 0.9, n)
    sensationalism = _sigmoid(sens_logit)
    unsafe_p = _sigmoid(-3.4 + 3.6 * sensationalism + 1.0 * is_new + 0.4 * is_unv + 0.5 * is_pol)
    unsafe = (rng.random(n) < unsafe_p).astype(np.int64)

    toxicity = np.clip(0.2 + 0.25 * unsafe + 0.2 * sensationalism + rng.normal(0.0, 0.13, n), 0.0, 1.0)
    report_rate = np.exp(rng.normal(-3.0 + 0.9 * unsafe + 0.5 * sensationalism, 0.7, n))
    report_rate[rng.random(n) < population.report_missing_rate] = np.nan
    reputation = rng.normal(0.65 - 0.25 * is_new - 0.08 * unsafe, 0.15, n)
    text_length = (np.exp(rng.normal(5.5 + 0.2 * (category == "news"), 0.6, n)) + 1).astype(np.int64)
    engage_p = _sigmoid(-1.6 + 3.8 * sensationalism + 0.9 * unsafe)

    return pd.DataFrame(
        {
            "toxicity": toxicity,
            "sensationalism": sensationalism,
            "report_rate": report_rate,
            "author_reputation": reputation,
            "text_length": text_length,
            "category": category.astype(object),
            "source_type": source.astype(object),
            "region": region.astype(object),
            "unsafe": unsafe,
            "_engage_p": engage_p,
        }
    )


def night_start(start_date: dt.date, index: int) -> dt.datetime:
    """The UTC start of night ``index`` (1-based) of a simulation starting on ``start_date``."""
    day = start_date + dt.timedelta(days=index - 1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
