"""Third-party warnings we know, cannot fix, and keep out of task logs: each named by category, message and module.

A task log must show what will break on the next upgrade, not bury it under
the same library notice repeated. Warnings whose cause is in our code are
fixed there. The few that MLflow or Great Expectations raise from their own
code, about their own code, are listed in :data:`KNOWN`, each with where it
comes from; :func:`known_warnings` drops exactly those around the calls that
raise them and logs one line saying so. Every other warning raised in the
block is passed on unchanged (to the process's filters, Airflow's task log,
pytest).

The test configuration (``setup.cfg``, ``[tool:pytest] filterwarnings``)
ignores these by the same names, and the few other third-party warnings
that only tests meet, each with where it comes from.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["KNOWN", "KnownWarning", "known_warnings"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownWarning:
    """One third-party warning: its category (dotted path), message and module (regular expressions), and why."""

    name: str
    category: str
    message: str
    module: str
    comes_from: str

    def _category(self) -> type[Warning]:
        """The category class, looked up among the loaded modules only: a warning of a library that is not
        loaded cannot have been raised, and importing one here (Airflow sets up its logging on import) would
        change how warnings are shown while they are being passed on."""
        module, _, name = self.category.rpartition(".")
        found = getattr(sys.modules.get(module), name, None)
        return found if isinstance(found, type) and issubclass(found, Warning) else _Never

    def matches(self, caught: warnings.WarningMessage, modules: dict[str, str]) -> bool:
        """Whether ``caught`` is this warning: same category (or a subclass), message and module.

        ``modules``: the loaded modules' names by file (:func:`_modules_by_file`), built once per block.
        """
        return (
            issubclass(caught.category, self._category())
            and re.match(self.message, str(caught.message), re.IGNORECASE) is not None
            and re.match(self.module, _module_of(caught.filename, modules)) is not None
        )


class _Never(Warning):
    """The category of a library that is not installed: no warning is one."""


#: The third-party warnings :func:`known_warnings` drops (and the tests ignore), with where each comes from.
KNOWN: tuple[KnownWarning, ...] = (
    KnownWarning(
        name="SQLAlchemy noload",
        category="sqlalchemy.exc.SADeprecationWarning",
        message=r"The ``noload`` loader strategy is deprecated",
        module=r"mlflow\.store\.tracking\.sqlalchemy_store",
        comes_from="MLflow's SQL tracking store configures its mappers with the noload strategy that SQLAlchemy 2.1 "
        "deprecates; raised once per process, when the first client of a database store is made",
    ),
    KnownWarning(
        name="MLflow integer-column hint",
        category="builtins.UserWarning",
        message=r"Hint: Inferred schema contains integer column",
        module=r"mlflow\.types\.utils",
        comes_from="mlflow.sklearn.log_model infers the model's signature from the input example and advises on "
        "integer columns; the signature only names the inputs here (checks score through scikit-learn)",
    ),
    KnownWarning(
        name="pandas range comparison in MLflow",
        category="pandas.errors.Pandas4Warning",
        message=r"Operation with range is deprecated",
        module=r"mlflow\.models\.utils",
        comes_from="mlflow.sklearn.log_model compares the input example's columns with a range (pandas 3.1)",
    ),
    KnownWarning(
        name="pandas keyword-only all() in MLflow",
        category="pandas.errors.Pandas4Warning",
        message=r"Starting with pandas version 4\.0 all arguments of all will be keyword-only",
        module=r"mlflow\.data\.digest_utils",
        comes_from="MLflow's pandas dataset digest calls DataFrame.all(0) positionally (pandas 3.1)",
    ),
    KnownWarning(
        name="skops ufunc scan of Airflow's deprecated names",
        category="airflow.utils.deprecation_tools.DeprecatedImportWarning",
        message=r"The `airflow\.",
        module=r"skops\.io\._utils",
        comes_from="the first import of skops.io looks up each numpy and scipy ufunc by name in every loaded module; "
        "in an Airflow task that reads every deprecated name of Airflow's compatibility modules (1,160 warnings)",
    ),
)


def _modules_by_file() -> dict[str, str]:
    """The loaded modules' names by their file, the first loaded module of a file winning.

    Built once per block: an Airflow task has thousands of modules loaded, and a block can record
    thousands of warnings (skops' first import records 1,160 in one), so looking each warning's module
    up in ``sys.modules`` on its own cost seconds per block (about 8 s of a retrain task on Airflow 3.2).
    """
    names: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            names.setdefault(filename, name)
    return names


def _module_of(filename: str, modules: dict[str, str]) -> str:
    """The name of the loaded module whose file is ``filename`` (what a warnings filter's module is matched against)."""
    return modules.get(filename) or (filename[:-3] if filename.endswith(".py") else filename)


#: Where warnings passed on are remembered, so that a warning repeated in a loop is shown once (filter ``default``).
_REGISTRY: dict[Any, Any] = {}


@contextlib.contextmanager
def known_warnings(what: str) -> Iterator[None]:
    """While the block runs, drop the warnings of :data:`KNOWN`; log one line naming those dropped.

    Every other warning raised in the block is passed on to the process's
    filters as it was raised (category, message, file, line and module), once
    per place.

    Parameters
    ----------
    what : str
        What the block does, for the log line (e.g. ``"loading models:/content_safety/3"``).
    """
    recorded: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                recorded = list(caught)
    finally:
        _pass_on(what, recorded)


def _pass_on(what: str, recorded: list[warnings.WarningMessage]) -> None:
    """Re-raise the recorded warnings that are not known ones; log one line naming the known ones dropped."""
    dropped: list[str] = []
    modules = _modules_by_file() if recorded else {}
    for item in recorded:
        known = next((k for k in KNOWN if k.matches(item, modules)), None)
        if known is not None:
            if known.name not in dropped:
                dropped.append(known.name)
            continue
        warnings.warn_explicit(
            item.message,
            item.category,
            item.filename,
            item.lineno,
            module=_module_of(item.filename, modules),
            registry=_REGISTRY,
            source=item.source,
        )
    if dropped:
        _LOG.info(
            "%s: ignored the known third-party warning(s) %s (listed in alignment_drift.integrations.known_warnings)",
            what,
            ", ".join(dropped),
        )
