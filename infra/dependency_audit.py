"""Known vulnerabilities in the installed dependencies, from PyPI's advisory data.

    python -m infra.dependency_audit      (`make test` runs it on the project's .venv)

Why not pip-audit alone: it asks PyPI for each release (`/pypi/NAME/VERSION/json`) or OSV,
and neither answers from these machines (only the package registries do, and their PyPI
serves the per-project document, not the per-release one). pip-audit then reports every
package as "not found on PyPI" and still prints "No known vulnerabilities found" with exit
status 0: a pass that audited nothing.

What does answer is `/pypi/NAME/json`, whose ``vulnerabilities`` are those of the project's
latest release (PyPI's advisory data: the PyPA advisory database and OSV). So each installed
distribution pinned at its latest release is audited exactly; one pinned below it is listed as
not audited, with the latest version, for a person to judge. Every distribution in the
environment counts: our pins, runtime and dev, and whatever they pulled in.

Exit status: 0 clean, 1 a known vulnerability not explained in ``EXPLAINED``, 2 PyPI could
not be asked (a failure, never a silent pass).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

PYPI = "https://pypi.org/pypi/{name}/json"
PROJECT = "ticketflow"  # ours, installed editable: not on PyPI
# A known vulnerability that we keep on purpose: its id (or an alias) -> why it does not
# apply to us, or what we do instead. Empty: nothing is accepted today.
EXPLAINED: dict[str, str] = {}


@dataclass
class Finding:
    name: str
    version: str
    latest: str | None = None  # None: PyPI could not be asked
    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def audited(self) -> bool:
        return self.error is None and self.latest == self.version


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def installed() -> dict[str, str]:
    """Every distribution in this environment (name -> version), but the project itself."""
    found = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    found.pop(PROJECT, None)
    return dict(sorted(found.items()))


def _ask(name: str, version: str, *, url: str, timeout: float) -> Finding:
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url.format(name=name), timeout=timeout) as response:
                data = json.load(response)
            break
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
            if attempt == 2:
                return Finding(name, version, error=str(error))
    latest = data["info"]["version"]
    finding = Finding(name, version, latest)
    if latest == version:
        finding.vulnerabilities = [v for v in data.get("vulnerabilities") or [] if not v.get("withdrawn")]
    return finding


def audit(packages: dict[str, str], *, url: str = PYPI, timeout: float = 20.0) -> list[Finding]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda item: _ask(*item, url=url, timeout=timeout), packages.items()))


def _explained(vulnerability: dict[str, Any]) -> str | None:
    for key in [vulnerability.get("id"), *(vulnerability.get("aliases") or [])]:
        if key in EXPLAINED:
            return EXPLAINED[key]
    return None


def report(findings: list[Finding]) -> int:
    failed = [f for f in findings if f.error]
    behind = [f for f in findings if f.latest and not f.audited]
    vulnerable = [(f, v) for f in findings for v in f.vulnerabilities]
    unexplained = [(f, v) for f, v in vulnerable if _explained(v) is None]
    for f, v in vulnerable:
        fixed = ", ".join(v.get("fixed_in") or []) or "no fixed release"
        aliases = ", ".join(v.get("aliases") or [])
        print(f"{f.name} {f.version}: {v.get('id')} ({aliases}); fixed in {fixed}; {v.get('link', '')}")
        print(f"    {(v.get('summary') or v.get('details') or '').strip().splitlines()[0][:200]}")
        if reason := _explained(v):
            print(f"    explained: {reason}")
    audited = sum(f.audited for f in findings)
    print(
        f"{audited} of {len(findings)} installed distributions audited against PyPI's advisories: "
        f"{len(vulnerable)} known vulnerabilities, {len(unexplained)} unexplained."
    )
    if behind:
        print("Not audited here, pinned below the latest release (PyPI serves advisories for that one only):")
        for f in behind:
            print(f"    {f.name} {f.version} (latest {f.latest})")
    for f in failed:
        print(f"PyPI could not be asked about {f.name}: {f.error}", file=sys.stderr)
    if failed:
        return 2
    return 1 if unexplained else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request to PyPI")
    args = parser.parse_args(argv)
    return report(audit(installed(), timeout=args.timeout))


if __name__ == "__main__":
    sys.exit(main())
