"""cfn-lint on the synthesized templates; W3005 (redundant DependsOn) is CDK's own habit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Synthesized

pytestmark = pytest.mark.infra

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def test_cfn_lint_is_clean(synth: Synthesized, extended: Synthesized) -> None:
    templates = [str(s.outdir / s.stack.template_file) for s in (synth, extended)]
    result = subprocess.run(
        [str(CFN_LINT), "-i", "W3005", "--", *templates], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
