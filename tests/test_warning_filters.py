"""The test configuration's warning filters: ours fail a test, only the named third-party ones are ignored."""

from __future__ import annotations

import warnings

import pytest

NOLOAD = "The ``noload`` loader strategy is deprecated and will be removed in a future release."


@pytest.fixture
def configured(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("pythonwarnings"):
        pytest.skip("-W on the command line replaces setup.cfg's filters")


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize("category", [DeprecationWarning, FutureWarning, UserWarning, RuntimeWarning])
def test_a_warning_from_our_package_fails_the_test(category: type[Warning]) -> None:
    with pytest.raises(category, match="soon gone"):
        warnings.warn_explicit("soon gone", category, "scoring.py", 1, module="alignment_drift.core.scoring")


@pytest.mark.usefixtures("configured")
def test_only_the_named_third_party_warnings_are_ignored() -> None:
    with warnings.catch_warnings(record=True) as caught:  # the configured filters, recording what they let through
        warnings.warn_explicit(NOLOAD, DeprecationWarning, "s.py", 327, module="mlflow.store.tracking.sqlalchemy_store")
        warnings.warn_explicit(NOLOAD, DeprecationWarning, "t.py", 9, module="mlflow.tracking.client")  # elsewhere
        warnings.warn_explicit("Something else", DeprecationWarning, "s.py", 9, module="mlflow.store.tracking.x")
    assert [(str(w.message), w.filename) for w in caught] == [(NOLOAD, "t.py"), ("Something else", "s.py")]


def test_every_warning_dropped_at_run_time_is_ignored_by_name_in_the_tests(root: object) -> None:
    import iniconfig

    from alignment_drift.integrations.known_warnings import KNOWN

    lines = iniconfig.IniConfig(str(root) + "/setup.cfg")["tool:pytest"]["filterwarnings"].splitlines()
    ignored = {(line.split(":")[1], line.split(":")[3]) for line in lines if line.startswith("ignore:")}
    for known in KNOWN:
        message = known.message.replace(": ", ". ").replace("\\.", ".")
        assert (message, known.module.replace("\\.", ".")) in ignored, known.name
