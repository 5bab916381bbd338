"""Format-valid fake credentials and personal data for the corpus.

Every value is random (seeded, so the corpus is stable), made here and never a real
credential. The corpus files hold ``⟦g NAME⟧`` markers instead of the values, so no
token-shaped string is committed.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
import zlib
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

FIRST = ["alice", "bob", "carol", "dmitri", "eun-ji", "farah", "gustavo", "hana", "ines",
         "jonas", "kwame", "lucia", "mateo", "nadia", "oskar", "priya", "quentin", "rosa",
         "sanjay", "tomasz", "ulrike", "valentin", "wen", "ximena", "yusuf", "zofia"]  # fmt: skip
LAST = ["okafor", "lindqvist", "moreau", "tanaka", "schmidt", "novak", "haddad", "oliveira",
        "kowalski", "fischer", "nguyen", "petrov", "rossi", "varga", "murphy", "sato"]  # fmt: skip
DOMAINS = ["acme-corp.io", "northwind-labs.com", "quillsoft.dev", "brightpath.co.uk",
           "tessellate.ai", "orbitware.net", "kelpie-systems.de", "mapleleaf-data.ca"]  # fmt: skip
ORGS = ["acme", "northwind-labs", "quillsoft", "brightpath", "tessellate", "orbitware"]
REPOS = ["billing-service", "infra-live", "mobile-app", "ml-pipelines", "payments-core",
         "internal-tools", "data-warehouse", "auth-gateway", "customer-portal"]  # fmt: skip


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _base62(number: int, width: int) -> str:
    out = ""
    while number:
        number, rest = divmod(number, 62)
        out = BASE62[rest] + out
    return out.rjust(width, "0")


def _crc_token(rng: random.Random, prefix: str) -> str:
    body = _s(rng, ALNUM, 30)
    return prefix + body + _base62(zlib.crc32(body.encode()), 6)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = {
        "sub": str(rng.randint(10**6, 10**7)),
        "email": f"{rng.choice(FIRST)}@{rng.choice(DOMAINS)}",
        "iat": 1766000000 + rng.randint(0, 10**6),
        "exp": 1767000000 + rng.randint(0, 10**6),
    }
    body = _b64url(json.dumps(payload).encode())
    return f"{header}.{body}.{_s(rng, B64URL, 43)}"


def _pem(rng: random.Random, label: str, lines: int = 12) -> str:
    body = "\n".join(_s(rng, B64, 64) for _ in range(lines))
    first, last = _s(rng, B64, 61), _s(rng, B64, 40)
    return f"-----BEGIN {label}-----\nMII{first}\n{body}\n{last}==\n-----END {label}-----"


def _openssh(rng: random.Random) -> str:
    lines = ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"]
    lines += [_s(rng, B64, 70) for _ in range(5)]
    return (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END OPENSSH PRIVATE KEY-----"
    )


def _password(rng: random.Random) -> str:
    return _s(rng, ALNUM, 6) + rng.choice("!#%^*_-+") + _s(rng, ALNUM, 5)


def _public_ipv4(rng: random.Random) -> str:
    while True:
        a = rng.choice([23, 34, 45, 52, 63, 81, 91, 104, 141, 151, 176, 185, 212])
        ip = f"{a}.{rng.randint(1, 254)}.{rng.randint(0, 254)}.{rng.randint(1, 254)}"
        return ip


def _ipv6(rng: random.Random) -> str:
    groups = [rng.choice(["2a01", "2600", "2a02", "2406", "2804"])] + [
        format(rng.randint(0, 0xFFFF), "x") for _ in range(3)
    ]
    return ":".join(groups) + "::" + format(rng.randint(1, 0xFFFF), "x")


def _phone(rng: random.Random, style: str) -> str:
    if style == "us":
        return f"({rng.randint(201, 989)}) {rng.randint(201, 989)}-{rng.randint(1000, 9999)}"
    if style == "us_dash":
        return f"{rng.randint(201, 989)}-{rng.randint(201, 989)}-{rng.randint(1000, 9999)}"
    if style == "uk":
        return f"+44 {rng.randint(20, 79)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    if style == "de":
        return f"+49 {rng.randint(30, 89)} {rng.randint(1000000, 9999999)}"
    if style == "e164":
        return f"+1{rng.randint(201, 989)}{rng.randint(201, 989)}{rng.randint(1000, 9999)}"
    pairs = " ".join(str(rng.randint(10, 99)) for _ in range(4))
    return f"+33 {rng.randint(1, 9)} {pairs}"


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{rng.choice(DOMAINS)}"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    # provider credentials
    "openai": lambda r: "sk-proj-" + _s(r, B64URL, 74) + "T3BlbkFJ" + _s(r, B64URL, 74),
    "openai_legacy": lambda r: "sk-" + _s(r, ALNUM, 20) + "T3BlbkFJ" + _s(r, ALNUM, 20),
    "openai_svcacct": lambda r: "sk-svcacct-" + _s(r, B64URL, 58) + "T3BlbkFJ" + _s(r, B64URL, 58),
    "anthropic": lambda r: "sk-ant-api03-" + _s(r, B64URL, 93) + "AA",
    "anthropic_admin": lambda r: "sk-ant-admin01-" + _s(r, B64URL, 93) + "AA",
    "google": lambda r: "AIza" + _s(r, B64URL, 35),
    "google_oauth_secret": lambda r: "GOCSPX-" + _s(r, B64URL, 28),
    "google_access": lambda r: "ya29.a0" + _s(r, B64URL, 120),
    "aws_id": lambda r: "AKIA" + _s(r, string.ascii_uppercase + "234567", 16),
    "aws_sts_id": lambda r: "ASIA" + _s(r, string.ascii_uppercase + "234567", 16),
    "aws_secret": lambda r: _s(r, ALNUM, 18) + "/" + _s(r, ALNUM, 12) + "+" + _s(r, ALNUM, 8),
    "aws_session": lambda r: "FwoGZXIvYXdzE" + _s(r, B64, 220) + "=",
    "azure_account_key": lambda r: _s(r, B64, 86) + "==",
    "azure_sb_key": lambda r: _s(r, B64, 43) + "=",
    "azure_client_secret": lambda r: (
        _s(r, ALNUM, 3) + str(r.randint(0, 9)) + "Q~" + _s(r, ALNUM + "_~.-", 34)
    ),
    "github": lambda r: _crc_token(r, "ghp_"),
    "github_oauth": lambda r: _crc_token(r, "gho_"),
    "github_app": lambda r: _crc_token(r, "ghs_"),
    "github_fine": lambda r: "github_pat_" + _s(r, ALNUM, 22) + "_" + _s(r, ALNUM, 59),
    "gitlab": lambda r: "glpat-" + _s(r, B64URL, 20),
    "gitlab_runner": lambda r: "glrt-" + _s(r, B64URL, 20),
    "gitlab_deploy": lambda r: "gldt-" + _s(r, B64URL, 20),
    "slack_bot": lambda r: (
        f"xoxb-{r.randint(10**10, 10**11)}-{r.randint(10**11, 10**12)}-{_s(r, ALNUM, 24)}"
    ),
    "slack_user": lambda r: (
        f"xoxp-{r.randint(10**10, 10**11)}-{r.randint(10**10, 10**11)}-"
        f"{r.randint(10**11, 10**12)}-{_s(r, HEX, 32)}"
    ),
    "slack_webhook_path": lambda r: (
        f"T{_s(r, string.ascii_uppercase + string.digits, 8)}/B"
        f"{_s(r, string.ascii_uppercase + string.digits, 10)}/{_s(r, ALNUM, 24)}"
    ),
    "stripe": lambda r: "sk_live_" + _s(r, ALNUM, 99),
    "stripe_test": lambda r: "sk_test_" + _s(r, ALNUM, 99),
    "stripe_restricted": lambda r: "rk_live_" + _s(r, ALNUM, 99),
    "stripe_whsec": lambda r: "whsec_" + _s(r, ALNUM, 32),
    "twilio_sk": lambda r: "SK" + _s(r, HEX, 32),
    "twilio_token": lambda r: _s(r, HEX, 32),
    "sendgrid": lambda r: "SG." + _s(r, B64URL, 22) + "." + _s(r, B64URL, 43),
    "npm": lambda r: _crc_token(r, "npm_"),
    "pypi": lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, B64URL, 140),
    "hf": lambda r: "hf_" + _s(r, string.ascii_letters, 34),
    "groq": lambda r: "gsk_" + _s(r, ALNUM, 52),
    "digitalocean": lambda r: "dop_v1_" + _s(r, HEX, 64),
    "databricks": lambda r: "dapi" + _s(r, HEX, 32),
    "vault": lambda r: "hvs." + _s(r, B64URL, 90),
    "shopify": lambda r: "shpat_" + _s(r, HEX, 32),
    "linear": lambda r: "lin_api_" + _s(r, ALNUM, 40),
    "doppler": lambda r: "dp.pt." + _s(r, ALNUM, 43),
    "postman": lambda r: "PMAK-" + _s(r, HEX, 24) + "-" + _s(r, HEX, 34),
    "grafana_sa": lambda r: "glsa_" + _s(r, ALNUM, 32) + "_" + _s(r, HEX, 8),
    "sentry_user": lambda r: "sntryu_" + _s(r, HEX, 64),
    "pulumi": lambda r: "pul-" + _s(r, HEX, 40),
    "atlassian": lambda r: "ATATT3" + _s(r, B64URL, 186),
    "telegram": lambda r: f"{r.randint(10**8, 10**9)}:AA{_s(r, B64URL, 33)}",
    "mailgun": lambda r: "key-" + _s(r, HEX, 32),
    "datadog": lambda r: _s(r, HEX, 32),
    "generic_hex40": lambda r: _s(r, HEX, 40),
    "generic_token": lambda r: _s(r, ALNUM, 32),
    "discord_webhook_token": lambda r: _s(r, B64URL, 68),
    "age": lambda r: "AGE-SECRET-KEY-1" + _s(r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    "django_secret": lambda r: (
        "django-insecure-" + _s(r, string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)", 50)
    ),
    "jwt": _jwt,
    "basic_b64": lambda r: base64.b64encode(f"{r.choice(FIRST)}:{_password(r)}".encode()).decode(),
    "docker_auth": lambda r: base64.b64encode(
        f"{r.choice(FIRST)}:{_crc_token(r, 'ghp_')}".encode()
    ).decode(),
    "k8s_b64": lambda r: base64.b64encode(_password(r).encode()).decode(),
    # private keys and SSH material
    "pem_rsa": lambda r: _pem(r, "RSA PRIVATE KEY"),
    "pem_pkcs8": lambda r: _pem(r, "PRIVATE KEY"),
    "pem_ec": lambda r: _pem(r, "EC PRIVATE KEY", 3),
    "pem_rsa_escaped": lambda r: _pem(r, "RSA PRIVATE KEY").replace("\n", "\\n"),
    "pem_pkcs8_escaped": lambda r: _pem(r, "PRIVATE KEY").replace("\n", "\\n"),
    "pem_pkcs8_double_escaped": lambda r: _pem(r, "PRIVATE KEY", 6).replace("\n", "\\\\n"),
    "openssh": _openssh,
    "ssh_ed25519_blob": lambda r: "AAAAC3NzaC1lZDI1NTE5AAAAI" + _s(r, B64, 43),
    "ssh_rsa_blob": lambda r: "AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + _s(r, B64, 340) + "=",
    "known_hosts_hash": lambda r: f"|1|{_s(r, B64, 27)}=|{_s(r, B64, 27)}=",
    # personal data
    "password": _password,
    "email": _email,
    "first": lambda r: r.choice(FIRST).replace("-", ""),
    "user": lambda r: (
        r.choice(FIRST).replace("-", "") + r.choice(["", ".", "_"]) + r.choice(LAST)[:3]
    ),
    "phone_us": lambda r: _phone(r, "us"),
    "phone_us_dash": lambda r: _phone(r, "us_dash"),
    "phone_uk": lambda r: _phone(r, "uk"),
    "phone_de": lambda r: _phone(r, "de"),
    "phone_fr": lambda r: _phone(r, "fr"),
    "phone_e164": lambda r: _phone(r, "e164"),
    "ipv4": _public_ipv4,
    "ipv4_private": lambda r: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "ipv4_lan": lambda r: f"192.168.{r.randint(0, 255)}.{r.randint(2, 254)}",
    "ipv6": _ipv6,
    "org": lambda r: r.choice(ORGS),
    "repo": lambda r: r.choice(REPOS),
    "host": lambda r: r.choice(["git.internal.", "code.", "scm."]) + r.choice(DOMAINS),
    # hard negatives
    "sha1": lambda r: _s(r, HEX, 40),
    "sha7": lambda r: _s(r, HEX, 7),
    "sha256": lambda r: _s(r, HEX, 64),
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "sri512": lambda r: "sha512-" + base64.b64encode(r.randbytes(64)).decode(),
    "sri384": lambda r: "sha384-" + base64.b64encode(r.randbytes(48)).decode(),
    "sri256": lambda r: "sha256-" + base64.b64encode(r.randbytes(32)).decode(),
    "png_b64": lambda r: "iVBORw0KGgoAAAANSUhEUgAAA" + base64.b64encode(r.randbytes(600)).decode(),
    "digest": lambda r: "sha256:" + _s(r, HEX, 64),
    "b64_blob": lambda r: base64.b64encode(r.randbytes(90)).decode(),
}


def generate(name: str, seed: str) -> str:
    """The value of generator ``name`` for ``seed`` (a case id and a label)."""
    rng = random.Random(zlib.crc32(seed.encode()))
    return GENERATORS[name](rng)
