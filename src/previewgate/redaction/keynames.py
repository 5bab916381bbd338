"""What a key name says about its value: ``DB_PASSWORD``, ``apiKey``, ``"client_secret"``.

Used for ``.env``, YAML, INI, JSON, XML and CLI-flag assignments and by the JSON walker for
dict keys. The name decides whether the value is a secret and of which type; the value still
has to look like one (``plausible``) before it is replaced, so ``max_tokens: 4096``,
``token_type: Bearer`` and ``password: ${DB_PASSWORD}`` survive.
"""

from __future__ import annotations

import re
from functools import lru_cache

from previewgate.redaction.validators import (
    char_kinds,
    has_digit,
    is_placeholder,
    shannon_entropy,
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

# Last words that make the name about the secret rather than the secret itself.
_NOT_SECRET_LAST = frozenset(
    {
        "id", "ids", "url", "uri", "urls", "endpoint", "endpoints", "host", "hostname", "port",
        "path", "paths", "file", "files", "filename", "dir", "directory", "name", "names", "type",
        "types", "len", "length", "size", "count", "counts", "limit", "limits", "max", "min",
        "prefix", "suffix", "format", "header", "param", "field", "env", "var", "ref", "version",
        "region", "algorithm", "alg", "mode", "method", "enabled", "enable", "disabled",
        "required", "expiry", "expires", "expiration", "exp", "ttl", "timeout", "lifetime",
        "label", "description", "desc", "hint", "help", "title", "policy", "scope", "scopes",
        "provider", "providers", "rotation", "location", "store", "arn", "kind", "hash", "hashed",
        "digest", "pattern", "regex", "placeholder", "icon", "email", "user", "username", "login",
        "tokens", "keys", "secrets", "passwords", "budget", "usage", "used", "remaining",
        "estimate", "created", "updated", "at", "reset", "strength", "rules", "changed", "set",
        "present", "exists", "valid", "validation", "schema", "class", "handler", "callback",
        "factory", "service", "manager", "source", "sources", "template", "builder", "loader",
        "key_ref", "fingerprint", "resource", "attribute", "metadata", "index", "stdin", "prompt",
        "command", "cmd", "less", "from", "sid", "sids",
    }
)  # fmt: skip
# Words anywhere in the name that make it something other than a credential.
_NOT_SECRET_ANY = frozenset(
    {
        "public", "pub", "publishable", "site", "primary", "foreign", "sort", "partition",
        "cache", "idempotency", "hotkey", "keyboard", "keycode", "keymap", "keystroke",
        "keypress", "monkey", "turkey", "donkey", "author", "authors", "authority", "page",
        "pagination", "continuation", "next", "cursor", "csrf", "xsrf", "tokenizer",
        "tokenize", "tokenized", "max", "num", "prompt", "completion", "input", "output",
        "total", "cached", "reasoning", "forgot", "reset", "confirm", "policy", "lookup",
        "object", "s3", "bucket", "dedup", "dedupe", "routing", "shard", "mapping", "i18n",
        "translation", "lang", "msg", "message", "error", "label", "column", "row", "sha",
        "commit", "checksum", "integrity",
    }
)  # fmt: skip
_PASSWORD_WORDS = ("password", "passwd", "passphrase", "pgpass")
_PASSWORD_WHOLE = frozenset({"pass", "pwd", "pw", "passwd", "pword"})
_SECRET_WORDS = ("secret", "token", "credential", "apikey", "privatekey", "accesskey")
_SECRET_WHOLE = frozenset({"auth", "creds", "cred", "sessionid", "sas"})
_KEY_QUALIFIERS = frozenset(
    {
        "api", "secret", "private", "access", "signing", "encryption", "master", "license",
        "licence", "app", "application", "client", "account", "storage", "subscription",
        "webhook", "auth", "service", "server", "consumer", "shared", "session", "hmac",
        "jwt", "crypt", "cipher", "aes", "ssh", "deploy", "admin", "root", "dev", "prod",
        "live", "test", "sandbox", "write", "read", "ingest", "integration", "rest", "sdk",
        "mgmt", "management", "cloud", "data", "function", "functions", "host", "primary",
        "secondary", "instrumentation", "security",
    }
)  # fmt: skip

# Provider named in the key: the value takes that provider's type even when its own format
# is not one we recognise (an Azure OpenAI key under OPENAI_API_KEY).
_VENDOR_TYPES: tuple[tuple[str, str], ...] = (
    ("openai", "openai_api_key"),
    ("anthropic", "anthropic_api_key"),
    ("claude", "anthropic_api_key"),
    ("gemini", "google_api_key"),
    ("google", "google_api_key"),
    ("gcp", "google_api_key"),
    ("firebase", "google_api_key"),
    ("github", "github_token"),
    ("gitlab", "gitlab_token"),
    ("slack", "slack_token"),
    ("stripe", "stripe_key"),
    ("twilio", "twilio_key"),
    ("sendgrid", "sendgrid_key"),
    ("npm", "npm_token"),
    ("pypi", "pypi_token"),
    ("twine", "pypi_token"),
    ("huggingface", "huggingface_token"),
    ("hugging_face", "huggingface_token"),
    ("azure", "azure_key"),
)
# Providers whose keys gitleaks finds by name (``datadog_api_key = ...``) rather than format.
VENDOR_WORDS = (
    "adafruit", "adobe", "airtable", "algolia", "alibaba", "asana", "atlassian", "confluence",
    "jira", "beamer", "bitbucket", "bittrex", "meraki", "cloudflare", "codecov", "cohere",
    "coinbase", "confluent", "contentful", "datadog", "dnkey", "discord", "droneci",
    "dropbox", "etsy", "facebook", "fastly", "finicity", "finnhub", "flickr", "freshbooks",
    "gitter", "gocardless", "heroku", "hubspot", "intercom", "jfrog", "artifactory",
    "bintray", "kraken", "kucoin", "launchdarkly", "linkedin", "mailchimp", "mailgun",
    "mapbox", "mattermost", "messagebird", "netlify", "newrelic", "new_relic", "nytimes",
    "okta", "privateai", "rapidapi", "sendbird", "sentry", "snyk", "sonar",
    "sourcegraph", "squarespace", "sumologic", "telegram", "travis", "twitch", "twitter",
    "typeform", "yandex", "zendesk", "mistral", "groq", "deepseek", "openrouter",
    "perplexity", "pinecone", "supabase", "vercel", "circleci", "buildkite", "pagerduty",
    "mixpanel", "auth0", "postmark", "mandrill", "braintree", "paypal", "square",
    "shopify", "digitalocean", "linode", "vultr", "hetzner", "scaleway", "doppler", "vault",
    "pulumi", "terraform", "databricks", "snowflake", "grafana", "honeycomb", "rollbar",
    "bugsnag", "logdna", "loggly", "papertrail", "algolia", "contentstack",
    "figma", "dropbox", "docusign", "hellosign",
    "fireworks", "anyscale", "cerebras", "elevenlabs",
    "assemblyai", "deepgram", "langsmith", "langchain", "wandb", "neptune",
)  # fmt: skip
VENDOR_ONLY = "api_token"  # the type of a value under a provider's name alone
_VENDOR_RE = re.compile("|".join(sorted(set(VENDOR_WORDS), key=len, reverse=True)))


def words(name: str) -> list[str]:
    """``"X-Api-Key"`` → ``["x", "api", "key"]``, ``dbPassword`` → ``["db", "password"]``."""
    return [w for w in _SPLIT.split(_CAMEL.sub("_", name).lower()) if w]


@lru_cache(maxsize=4096)
def classify(name: str) -> str | None:
    """The marker type for a value under ``name``, or None when the name is not a secret's.

    ``password``-like names give ``password``; provider names give that provider's type;
    ``authorization`` gives ``auth_header``; other secret names give ``secret_value``.
    """
    if "[REDACTED" in name:
        return None  # one of our markers: its type names no key
    parts = words(name)
    if not parts:
        return None
    joined = "_".join(parts)
    if joined in ("private_key_id",):
        return "gcp_private_key_id"
    if joined in ("authorization", "proxy_authorization") or (
        len(parts) >= 2 and parts[-2:] in (["api", "key"], ["auth", "token"]) and parts[0] == "x"
    ):
        return "auth_header"
    if joined in ("session_id", "sessionid", "session_token", "session_key", "session_secret"):
        return "secret_value"
    if joined.endswith(("amz_credential", "goog_credential")):
        return None  # an access key id and a date/region scope: the id has its own rule
    last = parts[-1]
    if last in _NOT_SECRET_LAST or any(p in _NOT_SECRET_ANY for p in parts):
        return None
    flat = "".join(parts)
    password = any(w in flat for w in _PASSWORD_WORDS) or any(p in _PASSWORD_WHOLE for p in parts)
    secret = password or any(w in flat for w in _SECRET_WORDS) or bool(_SECRET_WHOLE & set(parts))
    if not secret and "key" in parts:
        index = parts.index("key")
        secret = parts == ["key"] or (index > 0 and parts[index - 1] in _KEY_QUALIFIERS)
        secret = secret or last in ("key", "sk")
    vendor = _VENDOR_RE.search(flat)
    if not secret and vendor is None:
        return None
    if "aws" in parts or flat.startswith("aws") or "amz" in parts:
        if "session" in parts or "security" in parts:
            return "aws_session_token"
        if "secret" in flat:
            return "aws_secret_key"
    if "secretaccesskey" in flat:
        return "aws_secret_key"  # ``SecretAccessKey`` in AWS CLI and SDK output
    for word, category in _VENDOR_TYPES:
        if word in flat:
            return category
    if password:
        return "password"
    if vendor is not None and not secret:
        return VENDOR_ONLY
    return "secret_value"


@lru_cache(maxsize=4096)
def is_bare_key(name: str) -> bool:
    """``key`` alone: common for non-secrets (``{"key": "Content-Type"}``), so its value must
    look random before it is taken."""
    return words(name) == ["key"]


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_-]*(?:\.[A-Za-z_][\w-]*)*$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*_[A-Z0-9_]+$")
_PATHLIKE = re.compile(r"^(?:~?/|\.\.?/|[A-Za-z]:\\)|\.(?:pem|key|json|txt|ya?ml|env|p12|pfx|crt)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?[kKmM]?$")


def plausible(value: str, category: str, *, strict: bool = False) -> bool:
    """Whether ``value`` under a key of ``category`` looks like a real secret."""
    length = len(value)
    if not value or length > 4096:
        return False
    if category == "password":
        if length < 4 or is_placeholder(value):
            return False
        return not (length < 6 and value.islower() and _IDENTIFIER.match(value))
    if length < 8 or _NUMBER.match(value) or is_placeholder(value):
        return False  # counts, sizes, ids, stand-ins
    if "://" in value or (" " in value.strip() and category != "auth_header"):
        return False  # URLs are the URL rules' business; sentences are not tokens
    if category != "auth_header" and _PATHLIKE.search(value):
        return False
    if _ENV_NAME.match(value) or _IDENTIFIER.match(value):
        return False  # the name of a variable or a dotted path, not its value
    if strict:
        return length >= 16 and has_digit(value) and shannon_entropy(value) >= 3.3
    if char_kinds(value) < 2 and not value.isalpha():
        return False
    return shannon_entropy(value) >= 2.8
