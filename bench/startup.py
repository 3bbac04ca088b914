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


def once(code: str) -> float:
    env = {
        **os.environ,
        "TICKETFLOW_TABLE_NAME": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def handler_import(function: topology.Function) -> str:
    return (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(function.code_dir / 'handler.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    probes = {"boto3 alone": "import boto3"} | {f"{f.name} handler": handler_import(f) for f in topology.FUNCTIONS}
    # Interleaved rounds, so a noisy moment costs every probe alike, not one of them.
    times: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, code in probes.items():
            times[name].append(once(code))
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["boto3 alone"]
    pyc = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"start-up, median of {runs} interleaved fresh processes (Python {sys.version.split()[0]}, .pyc cache {pyc})")
    print(f"{'import':<28}{'ms':>8}{'× boto3':>10}")
    for name, ms in medians.items():
        print(f"{name:<28}{ms:>8.0f}{ms / baseline:>10.2f}")


if __name__ == "__main__":
    main()
