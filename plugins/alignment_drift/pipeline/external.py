"""External retraining (``retraining.mode: external``): gate what the owner's own training DAG registered.

The contract (docs/byom.md):

1. the monitor emits a retrain request, as always: the asset
   ``alignment_drift.<model>.retrain_request`` (uri
   ``alignment-drift://<model>/retrain-request``), ``extra`` = ``model``,
   ``verdict``, ``reason``, ``data_interval_start``, ``data_interval_end``,
   ``mlflow_run_id``;
2. the owner's training DAG, scheduled on that asset, trains with its own
   code, registers a version of the spec's registered model, gives it alias
   ``challenger`` and the tag ``alignment_drift.request`` (which request it
   answers: ``<data_interval_start>/<data_interval_end>`` of the event),
   and emits the asset ``alignment_drift.<model>.challenger_registered``
   (uri ``alignment-drift://<model>/challenger-registered``, ``extra``:
   ``version`` and ``request``) as its task's outlet;
3. the plugin's retrain DAG, scheduled on that second asset, runs
   :func:`collect_challenger` (the version's reference and baselines, as
   for any challenger) and then the same gate, approval and promotion.
"""

from __future__ import annotations

from typing import Any

from alignment_drift.core.spec import AlignmentSpec
from alignment_drift.settings import Settings

__all__ = ["REQUEST_TAG", "ExternalChallengerError", "collect_challenger"]

#: The version tag naming the retrain request a challenger answers.
REQUEST_TAG = "alignment_drift.request"


class ExternalChallengerError(ValueError):
    """What the owner's training DAG registered cannot be gated: the message says what is missing."""


def collect_challenger(
    spec: AlignmentSpec, settings: Settings, req: dict[str, Any], *, key: str, tags: dict[str, str]
) -> dict[str, Any]:
    """Fit the reference and baselines of the challenger the owner registered; return it as the gate expects it.

    The version is ``req["version"]`` (the ``challenger_registered`` event's
    extra) or the one under alias ``challenger``; it must carry the tag
    ``alignment_drift.request`` (equal to ``req["request"]`` when given).
    Idempotent per version: a second call returns the first call's run.

    Returns
    -------
    dict
        ``version``, ``mlflow_run_id`` (the retrain run holding the reference), ``label``, ``baselines``.
    """
    from mlflow.entities import Metric, Param

    from alignment_drift.integrations.mlflow import registry
    from alignment_drift.integrations.mlflow.checks import replay_spooled_checks
    from alignment_drift.integrations.mlflow.models import ModelLoadError, load_from_registry
    from alignment_drift.integrations.mlflow.names import retrain_run_name
    from alignment_drift.integrations.mlflow.store import client, experiment_id
    from alignment_drift.integrations.tables import read_table
    from alignment_drift.pipeline.adopt import AdoptError, check_compatible
    from alignment_drift.pipeline.reference import split_holdout, version_reference

    if spec.retraining.mode != "external":
        raise ExternalChallengerError(f"{spec.model}: retraining.mode is {spec.retraining.mode!r}, not 'external'.")
    replay_spooled_checks(settings)
    version = str(req.get("version") or "")
    if not version:
        current = registry.champion(settings, spec.model, alias="challenger")
        if current is None:
            raise ExternalChallengerError(
                f"{spec.model} has no version under alias 'challenger'. The owner's training DAG must register one "
                f"(alias 'challenger', tag {REQUEST_TAG}) before emitting alignment_drift.{spec.model}"
                ".challenger_registered."
            )
        version = current.version
    info = registry.version_info(settings, spec.model, version)
    request = info.tags.get(REQUEST_TAG)
    if not request:
        raise ExternalChallengerError(
            f"{spec.model} version {version} has no tag {REQUEST_TAG}: it is not an answer to a retrain request. "
            f"Fix: tag it with the request it answers (<data_interval_start>/<data_interval_end> of the event)."
        )
    if req.get("request") and str(req["request"]) != request:
        raise ExternalChallengerError(
            f"{spec.model} version {version} answers request {request!r}, but the event names {req['request']!r}."
        )
    if info.tags.get("retrain_run_id") and info.reference_run_id:
        run = client(settings).get_run(info.tags["retrain_run_id"])
        baselines = {k.removeprefix("baseline."): v for k, v in run.data.metrics.items() if k.startswith("baseline.")}
        return {"version": version, "mlflow_run_id": run.info.run_id, "label": "external", "baselines": baselines}

    try:
        loaded = load_from_registry(
            settings, f"models:/{spec.model}/{version}", trusted_types=spec.registry.trusted_types
        )
        check_compatible(spec, loaded.model, loaded.inputs)
    except (ModelLoadError, AdoptError) as error:
        raise ExternalChallengerError(f"{spec.model} version {version}: {error}") from None
    training = read_table(str(settings.resolve_data(spec.reference.training_data)))
    _, held_out = split_holdout(spec, training)
    made = version_reference(spec, settings, loaded.model, held_out)

    mlflow_client = client(settings)
    run = mlflow_client.create_run(
        experiment_id(settings, spec.model),
        run_name=retrain_run_name(spec.model, night=request.partition("/")[0], trigger="external"),
        tags={
            "kind": "retrain",
            "model": spec.model,
            "retrain_key": key,
            "retrain_reason": f"external training answered request {request}"[:5000],
            "trigger": "external",
            REQUEST_TAG: request,
            "challenger_version": version,
            **tags,
        },
    )
    run_id = run.info.run_id
    registry.log_reference(
        settings,
        run_id,
        reference=made.frame,
        profile=made.profile,
        baselines=made.baselines,
        decision_threshold=made.decision_threshold,
    )
    mlflow_client.log_batch(
        run_id,
        params=[Param("label", "external"), Param("estimator", "external"), Param("serialization", loaded.format)],
        metrics=[Metric(f"baseline.{k}", float(v), 0, 0) for k, v in made.baselines.items() if v is not None],
    )
    registry.set_version_tags(
        settings,
        spec.model,
        version,
        {
            "reference_run_id": run_id,
            "retrain_run_id": run_id,
            "gate": "pending",
            "deployed_by": "owner (external training)",
            "serialization": loaded.format,
        },
    )
    return {"version": version, "mlflow_run_id": run_id, "label": "external", "baselines": dict(made.baselines)}
