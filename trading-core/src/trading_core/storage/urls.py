"""Database URLs made safe to print."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "***"
_SECRET_QUERY_KEYS = frozenset({"password", "passfile", "sslpassword"})


def mask_url(url: str) -> str:
    """``url`` with any password (in the authority or the query string) replaced by ``***``."""
    # Edit the text in place: re-assembling with urlunsplit would rewrite sqlite://// URLs.
    parts = urlsplit(url)
    masked = url
    if "@" in parts.netloc:
        credentials, host = parts.netloc.rsplit("@", 1)
        if ":" in credentials:
            user = credentials.split(":", 1)[0]
            masked = masked.replace(parts.netloc, f"{user}:{MASK}@{host}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() in _SECRET_QUERY_KEYS for key, _ in pairs):
        hidden = [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        masked = masked.replace(f"?{parts.query}", f"?{urlencode(hidden, safe='*')}", 1)
    return masked


def endpoint(url: str, *, default_port: int = 5432) -> str:
    """``host:port`` the URL points at (``localhost`` and the default port when left out)."""
    parts = urlsplit(url)
    host_and_port = parts.netloc.rsplit("@", 1)[-1]
    try:
        host = parts.hostname or "localhost"
        port = parts.port or default_port
    except ValueError:  # several hosts or a non-numeric port: show what was written
        return host_and_port or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


def redact(text: str, url: str) -> str:
    """``text`` with the URL's password removed, for driver messages that might echo it."""
    password = urlsplit(url).password
    return text.replace(password, MASK) if password else text
