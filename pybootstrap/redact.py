"""Keep secrets out of logs and messages: passwords in URLs, tokens, proxy credentials."""

from __future__ import annotations

import re
from typing import Any, Iterable, List

# scheme://user:password@host  or  scheme://token@host
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@]+)@")
# ?token=..., &password=..., api_key=...
_QUERY_SECRET = re.compile(
    r"(?P<key>(?:token|access_token|password|passwd|pwd|secret|api[_-]?key|auth|sig|signature)=)"
    r"(?P<value>[^&\s\"']+)", re.IGNORECASE)
# Authorization: Bearer xyz
_AUTH_HEADER = re.compile(r"(?P<key>Authorization:\s*\w+\s+)(?P<value>\S+)", re.IGNORECASE)

MASK = "***"


def redact(text: str) -> str:
    """Return text with credentials in URLs, secret query values and auth headers masked."""
    if not text:
        return text
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group('key')}{MASK}", text)


def redact_argv(argv: Iterable[Any]) -> List[str]:
    """Redact each element of an argument list."""
    return [redact(str(arg)) for arg in argv]


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like structure."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {key: redact_obj(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(value) for value in obj]
    return obj
