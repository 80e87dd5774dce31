"""Where a learner may be sent after signing in: Sakai, and nothing else (no open redirect)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from sso_bridge.errors import BadTarget

MAX_TARGET_LENGTH = 2048


def resolve_target(target: str | None, sakai_url: str, portal_path: str,
                   allowed_origins: tuple[str, ...]) -> str:
    """The absolute Sakai URL for ``target``; the portal when absent; BadTarget when off-site."""
    if not target:
        return sakai_url.rstrip("/") + portal_path
    if len(target) > MAX_TARGET_LENGTH:
        raise BadTarget(f"target is {len(target)} characters long")
    if any(ord(ch) < 0x21 or ch == "\\" for ch in target):
        raise BadTarget(f"target contains a control character, space or backslash: {target!r}")
    if target.startswith("/") and not target.startswith("//"):
        target = urljoin(sakai_url.rstrip("/") + "/", target.lstrip("/"))
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadTarget(f"target {target!r} is not an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise BadTarget(f"target {target!r} carries credentials")
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin not in allowed_origins:
        raise BadTarget(f"target origin {origin} is not one of {', '.join(allowed_origins)}")
    return target
