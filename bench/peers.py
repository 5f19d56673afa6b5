"""Virtual environments for the peer drift tools, one per peer, under ``bench/.venvs/<peer>``.

The peers pin versions that conflict with ours (pandas 3, numpy 2), so each one
gets its own environment, created with ``python3 -m venv`` and filled from PyPI
with pip. Creation is idempotent: an environment whose ``.bench-installed``
marker exists is left alone (``--force`` rebuilds it). The marker records the
resolved versions of the peer and of numpy/pandas/scipy/pyarrow.

Usage::

    python bench/peers.py              # create what is missing, print the versions
    python bench/peers.py --only evidently
    python bench/peers.py --force      # rebuild
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENVS = BENCH / ".venvs"
MARKER = ".bench-installed"

#: pip requirements per peer. pyarrow reads the shared parquet files; nothing
#: else is added. alibi-detect is installed without TensorFlow or PyTorch
#: (both optional extras); TabularDrift (KS + chi2, numpy/scipy) needs neither.
PEERS: dict[str, list[str]] = {
    # evidently 0.7 declares no pandas upper bound but imports a helper pandas 3
    # removed (pandas.core.dtypes.common.infer_dtype_from_object): pin pandas<3
    "evidently": ["evidently==0.7.*", "pandas<3", "pyarrow"],
    # nannyml 0.13.1 imports statsmodels (nannyml/plots/components/joy_plot.py) without
    # declaring it; it predates pandas 3, so pandas<3 keeps it on what it was tested with
    "nannyml": ["nannyml==0.13.*", "statsmodels", "pandas<3", "pyarrow"],
    # alibi-detect 0.13 requires numpy<2; pyarrow >= 23 requires numpy >= 2, so pyarrow<23
    "alibi-detect": ["alibi-detect", "pyarrow<23"],
    # river: the streaming change detectors (ADWIN, PageHinkley) that bench/trend_real.py compares with
    "river": ["river==0.26.*"],
    # not a peer: statsmodels ships the real public-domain tables bench/realdata.py exports
    "datasets": ["statsmodels", "pandas<3", "pyarrow"],
}
#: the distribution whose version is reported for each peer
DIST = {
    "evidently": "evidently",
    "nannyml": "nannyml",
    "alibi-detect": "alibi-detect",
    "river": "river",
    "datasets": "statsmodels",
}
#: imports that must work for the runner to work (pyarrow: the parquet files)
SMOKE = {
    "evidently": "from evidently import Report; from evidently.presets import DataDriftPreset; import pyarrow",
    "nannyml": "from nannyml import UnivariateDriftCalculator; import pyarrow",
    "alibi-detect": "from alibi_detect.cd import TabularDrift; import pyarrow",
    "river": "from river.drift import ADWIN, PageHinkley",
    "datasets": "from statsmodels.datasets import randhie; import pyarrow",
}
REPORTED = ("numpy", "pandas", "scipy", "pyarrow", "scikit-learn")


def python_of(peer: str) -> Path:
    """The interpreter of a peer's environment."""
    return VENVS / peer / "bin" / "python"


def installed(peer: str) -> dict[str, str] | None:
    """The recorded versions of a ready environment, or None."""
    marker = VENVS / peer / MARKER
    if not marker.exists() or not python_of(peer).exists():
        return None
    return json.loads(marker.read_text())


def _versions(peer: str) -> dict[str, str]:
    names = [DIST[peer], *REPORTED]
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {names!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python_of(peer)), "-c", code], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def ensure(peer: str, *, force: bool = False, python: str = "python3") -> dict[str, str]:
    """Create the peer's environment if missing (or ``force``) and return its versions.

    Raises ``subprocess.CalledProcessError`` when venv creation, pip or the
    smoke import fails; the log is in ``bench/.venvs/<peer>.log``.
    """
    if not force and (versions := installed(peer)) is not None:
        return versions
    env = VENVS / peer
    if env.exists():
        shutil.rmtree(env)
    VENVS.mkdir(parents=True, exist_ok=True)
    log_path = VENVS / f"{peer}.log"
    with log_path.open("w") as log:

        def run(cmd: list[str]) -> None:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)

        run([python, "-m", "venv", str(env)])
        pip = [str(python_of(peer)), "-m", "pip", "--disable-pip-version-check"]
        run([*pip, "install", "--upgrade", "pip"])
        run([*pip, "install", *PEERS[peer]])
        run([str(python_of(peer)), "-c", SMOKE[peer]])
        run([*pip, "freeze"])
    versions = _versions(peer)
    (env / MARKER).write_text(json.dumps(versions, indent=2) + "\n")
    return versions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(PEERS), help="only these peers")
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--python", default="python3", help="interpreter that creates the venvs (default python3)")
    args = parser.parse_args(argv)
    status = 0
    for peer in args.only or list(PEERS):
        try:
            versions = ensure(peer, force=args.force, python=args.python)
            print(json.dumps({"peer": peer, "ok": True, "versions": versions}))
        except subprocess.CalledProcessError as error:
            status = 1
            tail = (VENVS / f"{peer}.log").read_text().splitlines()[-15:]
            print(json.dumps({"peer": peer, "ok": False, "error": str(error), "log_tail": tail}))
        sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
