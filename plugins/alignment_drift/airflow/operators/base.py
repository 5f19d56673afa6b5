"""What the operators share: the spec (by model or file), Settings and connections, the night's interval."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from alignment_drift.airflow.common import connect
from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["AlignmentOperator", "NightOperator", "resolve_spec"]

Json = dict[str, Any]


def resolve_spec(spec: str | Path, settings: Settings) -> AlignmentSpec:
    """The spec named by ``spec``: a spec file's path, or a model whose spec is in ``settings.specs_dir``.

    Raises
    ------
    SpecError
        When the file does not load, or no spec of the specs folder has that model (naming the ones that do).
    """
    from alignment_drift.core.spec import SpecError, load_spec, load_spec_folder

    text = str(spec).strip()
    if not text:
        raise SpecError("The 'spec' parameter must name a model or a spec file. Got '' instead.")
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_spec(path if path.is_absolute() else settings.home / path)
    folder = load_spec_folder(settings.specs_dir)
    for found in folder.specs:
        if found.model == text:
            return found
    broken = [f.message for f in folder.failures if Path(f.path).stem == text]
    if broken:
        raise SpecError(f"The spec of {text!r} does not load: {broken[0]}")
    known = sorted(s.model for s in folder.specs)
    raise SpecError(
        f"No alignment spec for model {text!r} in {settings.specs_dir} (known: {', '.join(known) or 'none'}). "
        f"Fix: pass one of those, a spec file's path, or write {settings.specs_dir / (text + '.yaml')} "
        "('alignment-drift init' plans one); ALIGNMENT_DRIFT_SPECS_DIR names another folder."
    )


def _instant(value: Any, name: str) -> dt.datetime:
    """A rendered template (ISO text) or a datetime, as an aware datetime."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise AirflowFailException(
                f"The '{name}' parameter must be an ISO date-time. Got {value!r} instead. "
                "Fix: leave it unset (the run's data interval) or template it, e.g. '{{ data_interval_start }}'."
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class AlignmentOperator(BaseOperator):
    """What every alignment-drift operator shares: the spec, the project home, Settings and connections."""

    ui_color = "#e8f4ea"

    def __init__(self, *, spec: str | Path, home: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.home = home

    def _settings(self) -> Settings:
        connect()
        return Settings.from_env(self.home)

    def _spec(self, settings: Settings) -> AlignmentSpec:
        from alignment_drift.core.spec import SpecError

        try:
            return resolve_spec(self.spec, settings)
        except SpecError as error:
            raise AirflowFailException(str(error)) from None


class NightOperator(AlignmentOperator):
    """An operator on one night: ``[data_interval_start, data_interval_end)``, by default the run's interval."""

    def __init__(
        self,
        *,
        spec: str | Path,
        data_interval_start: str | dt.datetime | None = None,
        data_interval_end: str | dt.datetime | None = None,
        batch: str | None = None,
        home: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(spec=spec, home=home, **kwargs)
        self.data_interval_start = data_interval_start
        self.data_interval_end = data_interval_end
        self.batch = batch

    def _interval(self, context: Any) -> tuple[dt.datetime, dt.datetime]:
        start = self.data_interval_start or context.get("data_interval_start")
        end = self.data_interval_end or context.get("data_interval_end")
        if start is None or end is None:
            raise AirflowFailException(
                "This run has no data interval. Fix: set data_interval_start and data_interval_end, or trigger "
                "the DAG with a logical date."
            )
        begin, finish = _instant(start, "data_interval_start"), _instant(end, "data_interval_end")
        if begin >= finish:
            raise AirflowFailException(
                f"The night must end after it starts. Got data_interval_start={begin.isoformat()} and "
                f"data_interval_end={finish.isoformat()}."
            )
        return begin, finish
