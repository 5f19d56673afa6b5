"""The trust boundary around models: registry URIs only, and only trusted types out of a skops file."""

from __future__ import annotations

import pytest

from alignment_drift.integrations.mlflow.models import ModelUriError, parse_model_uri, save_format, trusted_type


@pytest.mark.parametrize(
    ("uri", "kind", "fields"),
    [
        ("models:/fraud/3", "version", {"name": "fraud", "version": "3"}),
        ("models:/Fraud Detector/12", "version", {"name": "Fraud Detector", "version": "12"}),
        ("models:/fraud@champion", "alias", {"name": "fraud", "alias": "champion"}),
        ("runs:/0123456789abcdef0123456789abcdef/model", "run", {"run_id": "0123456789abcdef0123456789abcdef"}),
        ("runs:/0123456789abcdef0123456789abcdef/sub/model/", "run", {"path": "sub/model"}),
    ],
    ids=["version", "spaces", "alias", "run", "run-subpath"],
)
def test_registry_uris_parse(uri: str, kind: str, fields: dict[str, str]) -> None:
    ref = parse_model_uri(uri)
    assert ref.kind == kind
    assert {k: getattr(ref, k) for k in fields} == fields


@pytest.mark.parametrize(
    "uri",
    [
        "/srv/models/model.pkl",
        "model.pkl",
        "file:///srv/models/model",
        "s3://bucket/model",
        "https://example.org/model.pkl",
        "models:/fraud",
        "models:/fraud/latest",
        "models:/m-0123456789abcdef",
        "runs:/0123456789abcdef0123456789abcdef/../../etc",
        "runs:/0123456789abcdef0123456789abcdef//etc/passwd",
        "models:/fra'ud/1",
        "models:/" + "x" * 2000 + "/1",
    ],
    ids=[
        "abs-path",
        "rel-path",
        "file",
        "s3",
        "https",
        "no-version",
        "stage",
        "logged-model-id",
        "dotdot",
        "absolute-run-path",
        "quote",
        "too-long",
    ],
)
def test_everything_else_is_refused(uri: str) -> None:
    with pytest.raises(ModelUriError):
        parse_model_uri(uri)


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", True),
        ("sklearn.tree._tree.Tree", True),
        ("numpy.dtype", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("numpy.memmap", False),  # writes files
        ("numpy.load", False),  # a function, not a class
        ("sklearn.datasets.fetch_openml", False),
        ("builtins.eval", False),
        ("os.system", False),
        ("sklearn.no_such.Thing", False),
        ("tests.byom.custom_steps.Winsorizer", False),
    ],
)
def test_the_allow_list(name: str, trusted: bool) -> None:
    assert trusted_type(name) is trusted


def test_declared_types_are_trusted_exactly() -> None:
    assert trusted_type("tests.byom.custom_steps.Winsorizer", ["tests.byom.custom_steps.Winsorizer"])
    assert not trusted_type("tests.byom.custom_steps.Winsorizer", ["tests.byom.custom_steps"])


def test_save_format_prefers_skops_and_falls_back_with_the_reason() -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from tests.byom.custom_steps import Winsorizer

    x, y = np.random.default_rng(0).normal(size=(200, 3)), np.arange(200) % 2
    hgb = HistGradientBoostingClassifier(max_iter=5).fit(x, y)
    chosen = save_format(hgb)
    assert chosen.format == "skops"
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in chosen.skops_trusted_types
    custom = make_pipeline(Winsorizer(), HistGradientBoostingClassifier(max_iter=5)).fit(x, y)
    fallback = save_format(custom)
    assert fallback.format == "cloudpickle" and "tests.byom.custom_steps.Winsorizer" in fallback.why
    assert save_format(custom, ["tests.byom.custom_steps.Winsorizer"]).format == "skops"
