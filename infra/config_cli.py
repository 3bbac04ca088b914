"""`ticketflow config export|import|diff`: the admin API's export and import from a shell.

The API speaks JSON; YAML is converted here, on the operator's machine, so the Lambda
functions need no YAML parser. A diff compares a file with the stack's live configuration
locally, with the same JSON Patch code the API's diff uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

from ticketflow.configuration import patch


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return args.token
    from infra.local import tokens

    return tokens.issue("admin-1", "admin", 3600)


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method,
        args.url.rstrip("/") + path,
        json=body,
        headers={"Authorization": f"Bearer {_token(args)}"},
        timeout=60,
    )
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = error["message"]
        except (ValueError, KeyError):
            message = response.text[:500]
        raise SystemExit(f"ticketflow config: {method} {path}: {response.status_code} {message}")
    return response.json()


def _read(name: str) -> dict[str, Any]:
    text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    # JSON when it looks like JSON; YAML (a superset for our documents) otherwise.
    document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    if not isinstance(document, dict) or "kinds" not in document:
        raise SystemExit(f"ticketflow config: {name} is not an exported configuration (no 'kinds')")
    return document


def _write(document: dict[str, Any], name: str | None, fmt: str | None) -> None:
    fmt = fmt or ("yaml" if name and name.endswith((".yaml", ".yml")) else "json")
    if fmt == "yaml":
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)
    else:
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if name and name != "-":
        Path(name).write_text(text, encoding="utf-8")
        print(f"wrote {name} ({', '.join(f'{k} v{v}' for k, v in document['versions'].items())})", file=sys.stderr)
    else:
        sys.stdout.write(text)


def differences(live: dict[str, Any], document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Kind → the JSON Patch from the live document to the file's (kinds that differ only)."""
    found = {}
    for kind, data in document["kinds"].items():
        operations = patch.diff(live["kinds"].get(kind), data)
        if operations:
            found[kind] = operations
    return found


def run(args: argparse.Namespace) -> int:
    if args.action == "export":
        _write(_call(args, "GET", "/admin/export"), args.file, args.format)
        return 0
    if not args.file:
        raise SystemExit(f"ticketflow config {args.action}: name the file (- for stdin)")
    document = _read(args.file)
    if args.action == "diff":
        live = _call(args, "GET", "/admin/export")
        found = differences(live, document)
        for kind in document["kinds"]:
            operations = found.get(kind, [])
            print(f"{kind}: {'unchanged' if not operations else f'{len(operations)} change(s)'}")
            for op in operations[:50]:
                sign = {"add": "+", "remove": "-", "replace": "~"}[op["op"]]
                shown = json.dumps(op.get("value", op.get("old")), ensure_ascii=False)
                print(f"  {sign} {op['path']}: {shown[:100]}")
            if len(operations) > 50:
                print(f"  … {len(operations) - 50} more")
        return 1 if found else 0  # like diff(1): 1 when they differ
    reason = args.reason or f"ticketflow config import {Path(args.file).name}"
    result = _call(args, "POST", "/admin/import", {"document": document, "reason": reason})
    for kind, version in result["changed"].items():
        print(f"{kind}: now version {version}")
    print(f"unchanged: {', '.join(result['unchanged']) or 'none'}")
    return 0
