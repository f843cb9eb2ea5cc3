"""Keep secrets out of logs and messages: passwords in URLs, tokens, proxy credentials."""

from __future__ import annotations

import re
from typing import Any, Iterable, List

# scheme://user:password@host, scheme://token@host. Greedy up to the last "@" before the path, so a
# password with an unencoded "@" is masked whole; no "/", "?" or "#" inside, so "git+https://host/repo@v1"
# (a VCS reference, not a credential) is left alone.
_URL_USERINFO = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,30}://)(?P<userinfo>[^/?#\s]*)@"
# ?token=..., &password=..., api_key=..., PIP_PASSWORD=...
_QUERY_SECRET = (r"(?P<key>(?:token|access_token|password|passwd|pwd|secret|api[_-]?key|auth|sig|signature)=)"
                 r"(?P<value>[^&\s\"']+)")
# Authorization: Bearer xyz / Proxy-Authorization: Basic xyz / Authorization: xyz ("authorization": "xyz" in JSON)
_AUTH_HEADER = (r"(?P<key>authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest|negotiate)\s+)?)"
                r"(?P<value>[^\s\"',]+)")
# Tokens recognisable by their prefix (GitHub, Hugging Face), wherever they appear
_KNOWN_TOKEN = r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{30,})\b"

MASK = "***"


def redact(text: str) -> str:
    """Return text with credentials in URLs, secret query values, auth headers and known tokens masked."""
    if not text:
        return text
    # Each pattern runs only where its anchor character occurs (the patterns are compiled on first use by
    # re's cache): most strings in a document hold none, and start-up stays cheap.
    if "@" in text:
        text = re.sub(_URL_USERINFO, lambda m: f"{m.group('scheme')}{MASK}@", text)
    if "=" in text:
        text = re.sub(_QUERY_SECRET, lambda m: f"{m.group('key')}{MASK}", text, flags=re.IGNORECASE)
    if "authorization" in text.lower():
        text = re.sub(_AUTH_HEADER, lambda m: f"{m.group('key')}{MASK}", text, flags=re.IGNORECASE)
    if "_" in text:
        text = re.sub(_KNOWN_TOKEN, MASK, text)
    return text


def redact_argv(argv: Iterable[Any]) -> List[str]:
    """Redact each element of an argument list."""
    return [redact(str(arg)) for arg in argv]


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like structure (keys too: a URL can be a key)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(key) if isinstance(key, str) else key: redact_obj(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(value) for value in obj]
    return obj
