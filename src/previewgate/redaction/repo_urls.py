"""Repository URLs → a keyed hash, so one partner's exports can be joined on a repository
without naming it, and two partners' cannot be joined with each other."""

from __future__ import annotations

import hashlib
import hmac

# First path segments on github.com that are pages, not owners.
GITHUB_PAGES = frozenset(
    {
        "about", "apps", "collections", "contact", "customer-stories", "enterprise", "events",
        "explore", "features", "login", "logout", "marketplace", "new", "notifications", "orgs",
        "organizations", "pricing", "pulls", "issues", "search", "security", "settings",
        "site", "sponsors", "team", "topics", "trending", "readme", "codespaces", "copilot",
        "join", "signup", "password_reset", "dashboard", "account", "users", "resources",
        "solutions", "git-guides", "premium-support",
    }
)  # fmt: skip
_ALIASES = {"raw.githubusercontent.com": "github.com", "api.github.com": "github.com"}


def normalise(host: str, path: str) -> str:
    """``host/owner/repo`` lower-cased, without ``www.``, a port, ``.git`` or a trailing
    slash: the same repository written as HTTPS, SSH or scp-style gives the same string."""
    host = host.lower().rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.removeprefix("www.")
    host = _ALIASES.get(host, host)
    path = path.strip("/").lower().removeprefix("repos/")
    path = path.removesuffix(".git").rstrip("/")
    return f"{host}/{path}"


def marker(normalised: str, hash_key: bytes | None) -> str:
    """``[REDACTED:repo_url:<12 hex>]`` with a key, ``[REDACTED:repo_url]`` without one."""
    if hash_key is None:
        return "[REDACTED:repo_url]"
    digest = hmac.new(hash_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"[REDACTED:repo_url:{digest[:12]}]"
