"""Building the command's parser (``alignment-drift --help``, any usage error) imports none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "sklearn", "scipy", "mlflow", "great_expectations", "airflow", "pyarrow", "pydantic")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from alignment_drift.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('IMPORTED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "usage: alignment-drift" in done.stdout
    assert done.stdout.splitlines()[-1] == "IMPORTED="
