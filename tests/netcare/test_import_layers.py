"""The import direction holds: configuration, front doors, domain apps, ground floor.

The contracts are pyproject.toml's [tool.importlinter]; scripts/test runs lint-imports too,
this test keeps a plain pytest run from missing a broken layer.
"""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_no_module_imports_from_a_layer_above_its_own():
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
