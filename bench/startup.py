"""Handler start-up (import) time, relative to `import boto3` alone.

Each figure is the median of N fresh Python processes, so it is what a cold start pays for
imports before the first request. Ratios keep the figure meaningful on a noisy machine.

    python bench/startup.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import topology  # noqa: E402

PROBE = """
import time, sys
start = time.perf_counter()
{code}
print(time.perf_counter() - start)
"""


def measure(code: str, runs: int) -> float:
    env = {
        **os.environ,
        "TICKETFLOW_TABLE_NAME": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=ROOT,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times) * 1000


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    baseline = measure("import boto3", runs)
    print(f"start-up, median of {runs} fresh processes (Python {sys.version.split()[0]})")
    print(f"{'import':<28}{'ms':>8}{'× boto3':>10}")
    print(f"{'boto3 alone':<28}{baseline:>8.0f}{1:>10.2f}")
    for function in topology.FUNCTIONS:
        path = function.code_dir / "handler.py"
        code = (
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('handler', {str(path)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
        )
        ms = measure(code, runs)
        print(f"{function.name + ' handler':<28}{ms:>8.0f}{ms / baseline:>10.2f}")


if __name__ == "__main__":
    main()
