"""Checks that hold for every test: each document printed and each log written in this process says a `status`
that agrees with its `exit_code`, as CONTRACT.md's table has it."""

from __future__ import annotations

import socket
from typing import Any, Dict, Iterator, List

import pytest

from pybootstrap import render, report

# CONTRACT.md, "install": ok/dry-run 0, no-compatible-build 3, degraded/failed after installing 5,
# interrupted 130; other failures the code of their error (and never 0, 3 or 130).
CONTRACT_CODES = {"ok": {0}, "dry-run": {0}, "no-compatible-build": {3}, "degraded": {5}, "interrupted": {130},
                  "failed": {1, 2, 4, 5, 6, 7, 8, 9, 10}}


def disagreement(doc: Any) -> str:
    """Why a document's status and exit code disagree ('' when they agree or it has not both)."""
    if not isinstance(doc, dict) or "status" not in doc or "exit_code" not in doc:
        return ""
    status, code = doc["status"], doc["exit_code"]
    if code in CONTRACT_CODES.get(status, set()):
        return ""
    return f"{doc.get('schema')}: status {status!r} with exit_code {code!r}"


@pytest.fixture(autouse=True)
def status_agrees_with_exit_code(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[Dict[str, Any]]]:
    """Record every document printed and log written; fail the test if one contradicts itself."""
    seen: List[Dict[str, Any]] = []
    write_log, document = report.write_log, render.document

    def recording_write_log(log: Dict[str, Any], **kwargs: Any) -> Any:
        seen.append(log)
        return write_log(log, **kwargs)

    def recording_document(doc: Any) -> None:
        seen.append(doc)
        document(doc)

    monkeypatch.setattr(report, "write_log", recording_write_log)
    monkeypatch.setattr(render, "document", recording_document)
    yield seen
    problems = [p for p in (disagreement(d) for d in seen) if p]
    assert problems == [], problems


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Every name resolved through socket.getaddrinfo while the test runs."""
    seen: List[str] = []
    real = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(host.decode() if isinstance(host, bytes) else str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    return seen
