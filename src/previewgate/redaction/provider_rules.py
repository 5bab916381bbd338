"""Provider credentials in their own formats: a distinctive prefix or shape, so a match needs
little else (a placeholder check, entropy, a checksum where the format carries one).

Covers the providers gitleaks' default configuration knows by format; those it knows only by
a nearby provider name (``datadog_api_key = ...``) are found by the key-name rule
(``keynames.VENDOR_WORDS``). Patterns are RE2 syntax and run on UTF-8 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from previewgate.redaction.scan import (
    PRI_BLOCK,
    PRI_TOKEN,
    PRI_WEAK_TOKEN,
    PROTECT,
    Found,
    Hit,
    Rule,
    Scan,
    token,
)
from previewgate.redaction.validators import (
    crc32_suffix_ok,
    is_jwt,
    is_placeholder,
    looks_random,
    shannon_entropy,
)


def real(value: str) -> bool:
    return not is_placeholder(value)


def rnd(min_len: int = 16, min_entropy: float = 3.0) -> Callable[[str], bool]:
    return lambda value: looks_random(value, min_len=min_len, min_entropy=min_entropy)


def checksummed(prefix_len: int) -> Callable[[str], bool]:
    """GitHub and npm tokens carry a CRC-32: a valid one is enough; without it the token
    still has to look random (older or hand-made tokens)."""

    def check(value: str) -> bool:
        if crc32_suffix_ok(value, prefix_len):
            return True
        return looks_random(value, min_len=20, min_entropy=3.5)

    return check


def _mixed(min_entropy: float) -> Callable[[str], bool]:
    """Upper, lower and digits: what separates a key from a word that fits the shape."""

    def check(value: str) -> bool:
        has = (any(c.isupper() for c in value), any(c.islower() for c in value))
        return (
            all(has)
            and any(c.isdigit() for c in value)
            and real(value)
            and (shannon_entropy(value) >= min_entropy)
        )

    return check


def _aws_access_key(found: Found, scan: Scan) -> Iterable[Hit]:
    """An access key id, and a secret key (40 base64 characters) written near it: the pair
    in a CSV download, ``aws configure`` output or a log line."""
    start, end = found.span("s")
    key = scan.text(start, end)
    if is_placeholder(key):
        return ()
    hits = [Hit(start, end, "aws_access_key_id", PRI_TOKEN)]
    window_start, window_end = max(0, start - 400), min(len(scan.data), end + 400)
    for m in _AWS_SECRET.finditer(scan.data, window_start, window_end):
        secret = m.group(1).decode("ascii")
        if is_placeholder(secret) or not _mixed(4.0)(secret):
            continue
        hits.append(Hit(m.start(1), m.end(1), "aws_secret_key", PRI_TOKEN))
    return hits


def _pem(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span()
    return (Hit(start, end, "private_key", PRI_BLOCK),)


def _pem_truncated(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span()
    # A header alone (``-----BEGIN RSA PRIVATE KEY-----`` in prose) has nothing to hide.
    if end - start < 64:
        return ()
    return (Hit(start, end, "private_key", PRI_BLOCK - 5),)


def _protect(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span()
    return (Hit(start, end, PROTECT, 0),)


def _jwt(value: str) -> bool:
    return is_jwt(value)


# Python's re for the short, windowed search for the secret beside an access key id.
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")

_B64 = "A-Za-z0-9+/"
_PEM_BODY = r"[A-Za-z0-9+/=\s\\:,.()_-]"

RULES: tuple[Rule, ...] = (
    # Inline images and other base64 payloads: nothing inside is redacted (and nothing inside
    # can be read as a key by a pattern that happens to fit a stretch of base64).
    Rule("data_url",
         rf"data:[A-Za-z]+/[A-Za-z0-9.+-]+(?:;[A-Za-z0-9=.-]+)*;base64,[{_B64}=]{{16,}}",
         _protect),
    # --- private keys: PEM (RSA, EC, DSA, PKCS#8, encrypted), OpenSSH, PGP; also JSON-escaped
    Rule("private_key_block",
         rf"-----BEGIN[ A-Z0-9]{{0,40}}PRIVATE KEY(?: BLOCK)?-----{_PEM_BODY}*?"
         r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----", _pem),
    Rule("private_key_truncated",
         r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
         r"(?:\\\\?[rn]|[\r\n]|[A-Za-z0-9+/=]|(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*)*",
         _pem_truncated),
    Rule("openvpn_static_key",
         r"-----BEGIN OpenVPN Static key V1-----[0-9a-fA-F\s\\rn]*?-----END OpenVPN Static key V1"
         r"-----",
         _pem),
    Rule("putty_private_key",
         r"Private-Lines:[ \t]*[0-9]+(?:\r?\n|\\r?\\n)(?:[A-Za-z0-9+/=]{1,128}(?:\r?\n|\\r?\\n))+",
         _pem),
    token("age_secret_key", "private_key",
          r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    # --- OpenAI: project / service-account / admin keys, legacy keys (T3BlbkFJ is "OpenAI"
    # in base64), browser session keys
    token("openai_project_key", "openai_api_key",
          r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}", rnd(40, 3.5), tail=True),
    token("openai_legacy_key", "openai_api_key", r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b"),
    token("openai_session_key", "openai_api_key", r"\bsess-[A-Za-z0-9]{40}\b", rnd(40, 3.5)),
    # Other providers that copied the ``sk-`` shape (DeepSeek, Moonshot, ...).
    token("sk_key", "api_token", r"\bsk-[A-Za-z0-9]{32,}\b", rnd(32, 3.5), priority=PRI_WEAK_TOKEN),
    # --- Anthropic: API, admin and OAuth keys
    token("anthropic_key", "anthropic_api_key",
          r"\bsk-ant-(?:api|admin|oat|ort|sid)[0-9]{2}-[A-Za-z0-9_-]{32,"
          r"}", rnd(32, 3.5), tail=True),
    # --- Google: API keys (Maps, Gemini, Firebase), OAuth client secrets, access and refresh
    # tokens
    token("google_api_key", "google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", rnd(39, 3.5), tail=True),
    token("google_oauth_secret", "google_oauth", r"\bGOCSPX-[A-Za-z0-9_-]{28}", real, tail=True),
    token("google_oauth_access", "google_oauth", r"\bya29\.[0-9A-Za-z_-]{30,}", rnd(30, 3.5)),
    token("google_oauth_refresh", "google_oauth", r"\b1//0[0-9A-Za-z_-]{40,}", rnd(40, 3.5)),
    # --- AWS: access key ids (and the secret written beside one), STS session tokens
    Rule("aws_access_key", r"\b(?P<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
         _aws_access_key),
    token("aws_session_token", "aws_session_token",
          rf"\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2lu)[{_B64}]{{100,}}=*", real),
    # --- Azure: storage and service-bus keys in connection strings, Entra ID client secrets,
    # DevOps personal access tokens
    token("azure_account_key", "azure_key", rf"(?i)AccountKey=(?P<s>[{_B64}]{{86}}==)"),
    token("azure_shared_access_key", "azure_key",
          rf"(?i)SharedAccessKey=(?P<s>[{_B64}]{{42,44}}=?)", real),
    token("azure_ad_client_secret", "azure_client_secret",
          r"(?:^|[^A-Za-z0-9_~.-])(?P<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})"
          r"(?:$|[^A-Za-z0-9_~.-])", rnd(30, 3.0)),
    token("azure_devops_pat", "azure_key", r"\b[A-Za-z0-9]{52}AZDO[A-Za-z0-9]{28}\b"),
    # --- GitHub: classic, OAuth, user-to-server, server-to-server, refresh, fine-grained
    token("github_token", "github_token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b", checksummed(4)),
    token("github_fine_grained", "github_token", r"\bgithub_pat_[A-Za-z0-9_]{82}\b", rnd(60, 3.5)),
    # --- GitLab: personal, OAuth, deploy, runner, CI job, trigger, feed, mail, agent, SCIM,
    # feature-flag tokens; runner registration tokens; session cookies
    token("gitlab_token", "gitlab_token",
          r"\b(?:glpat|gloas|gldt|glrt|glrtr|glcbt|glptt|glft|glimt|glagent|glsoat|glffct|glwt)"
          r"-[A-Za-z0-9_.-]{20,}", rnd(20, 3.0), tail=True),
    token("gitlab_runner_registration", "gitlab_token", r"\bGR1348941[A-Za-z0-9_-]{20}", real,
          tail=True),
    token("gitlab_session", "gitlab_token", r"_gitlab_session=(?P<s>[0-9a-z]{32})\b", real),
    # --- Slack: bot, user, app, config and legacy tokens; incoming webhooks
    token("slack_token", "slack_token", r"\bxox[abposre]-[0-9A-Za-z-]{10,}",
          lambda v: sum(c.isdigit() for c in v) >= 6 and rnd(20, 3.0)(v), tail=True),
    token("slack_config_token", "slack_token", r"\bxoxe(?:\.xox[bp])?-[0-9]-[A-Za-z0-9]{100,}"),
    token("slack_app_token", "slack_token",
          r"(?i)\bxapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+", rnd(30)),
    token("slack_webhook", "slack_webhook",
          r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/_-]{20,})", real),
    # --- Stripe: secret and restricted keys (test mode too), webhook signing secrets
    token("stripe_key", "stripe_key",
          r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,247}\b", real),
    token("stripe_webhook_secret", "stripe_key", r"\bwhsec_[A-Za-z0-9+/=]{32,}", real),
    # --- Twilio API key SIDs; SendGrid; npm; PyPI; Hugging Face
    token("twilio_api_key", "twilio_key", r"\bSK[0-9a-fA-F]{32}\b", rnd(34, 3.0)),
    token("sendgrid_key", "sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", real,
          tail=True),
    token("npm_token", "npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", checksummed(4)),
    token("pypi_token", "pypi_token",
          r"\bpypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}"),
    token("huggingface_token", "huggingface_token", r"\bhf_[A-Za-z0-9]{34,40}\b", rnd(34, 3.5)),
    token("huggingface_org_toke"
          "n", "huggingface_token", r"\bapi_org_[A-Za-z0-9]{34}\b", rnd(34, 3.5)),
    # --- JSON Web Tokens (and base64 of one): the header must decode to JSON
    token("jwt", "jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", _jwt),
    token("jwt_base64", "jwt", rf"\bZXlK(?:aGJHY2lPaU|MGVYQWlPaU|cmFXUWlPaU)[{_B64}]{{40,}}=*"),
    # --- AI and developer platforms (Groq, xAI, Perplexity, Replicate, LangSmith)
    token("groq_key", "api_token", r"\bgsk_[A-Za-z0-9]{48,52}\b", rnd(48, 3.5)),
    token("xai_key", "api_token", r"\bxai-[A-Za-z0-9]{70,90}\b", rnd(70, 3.5)),
    token("perplexity_key", "api_token", r"\bpplx-[A-Za-z0-9]{48}\b", rnd(48, 3.5)),
    token("replicate_key", "api_token", r"\br8_[A-Za-z0-9]{37}\b", rnd(37, 3.5)),
    token("langsmith_key", "api_token", r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"),
    # --- the long tail of gitleaks' prefix formats, one line each
    token("onepassword_secret_key", "api_token",
          r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-"
          r"Z0-9]{5}\b",
          rnd(30, 3.0)),
    token("onepassword_service_token", "api_token", r"\bops_eyJ[A-Za-z0-9+/]{250,}=*"),
    token("adobe_client_secret", "api_token", r"\bp8e-[A-Za-z0-9]{32}\b", rnd(32, 3.0)),
    token("alibaba_access_key", "api_token", r"\bLTAI[A-Za-z0-9]{20}\b", rnd(24, 3.0)),
    token("artifactory_key", "api_token", r"\bAKCp[A-Za-z0-9]{69}\b", rnd(60, 3.5)),
    token("artifactory_reference", "api_token", r"\bcmVmd[A-Za-z0-9]{59}\b", rnd(60, 3.5)),
    token("atlassian_token", "api_token", r"\bATATT3[A-Za-z0-9_=-]{186}", rnd(100, 3.5)),
    token("authress_key", "api_token",
          r"(?i)\b(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}"
          r"\.[a-z0-9+/_=-]{30,120}"),
    token("clickhouse_key", "api_token", r"\b4b1d[A-Za-z0-9]{38}\b", _mixed(3.5)),
    token("clojars_token", "api_token", r"(?i)\bCLOJARS_[a-z0-9]{60}\b", rnd(60, 3.0)),
    token("cloudflare_origin_ca", "api_token", r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b"),
    token("databricks_token", "api_token", r"\bdapi[a-f0-9]{32}(?:-[0-9])?\b", rnd(32, 3.0)),
    token("digitalocean_token", "api_token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", rnd(64, 3.0)),
    token("doppler_token", "api_token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b",
          rnd(40, 3.0)),
    token("duffel_token", "api_token", r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}", real),
    token("dynatrace_token", "api_token", r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b"),
    token("easypost_token", "api_token", r"\bEZ[AT]K[A-Za-z0-9]{54}\b", rnd(54, 3.0)),
    token("facebook_page_token", "api_token", r"\bEAA[MC][A-Za-z0-9]{100,}\b", rnd(100, 4.0)),
    token("facebook_app_token", "api_token", r"\b[0-9]{15,16}(?:\||%7C)[0-9A-Za-z_-]{27,40}\b",
          rnd(40, 3.5)),
    token("flutterwave_key", "api_token",
          r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[a-h0-9]{32}-X\b|\bFLWSECK_TEST-[a-h0-9]{12}\b"),
    token("flyio_token", "api_token",
          r"\b(?:fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}=*)",
          rnd(40, 3.5)),
    token("frameio_token", "api_token", r"\bfio-u-[A-Za-z0-9_=-]{64}", rnd(64, 3.5)),
    token("grafana_key", "api_token",
          r"\b(?:eyJrIjoi[A-Za-z0-9]{70,400}=*|glc_[A-Za-z0-9+/]{32,400}=*|glsa_[A-Za-z0-9]{32}_["
          r"A-Fa-f0-9]{8}\b)",
          rnd(32, 3.5)),
    token("harness_token", "api_token",
          r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}\b"),
    token("terraform_token", "api_token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}"),
    token("vault_token", "api_token", r"\bhv[sbr]\.[A-Za-z0-9_-]{90,300}", rnd(90, 3.5)),
    token("vault_legacy_token", "api_token", r"\bs\.[A-Za-z0-9]{24}\b", _mixed(3.8),
          priority=PRI_WEAK_TOKEN),
    token("heroku_token", "api_token", r"\bHRKU-AA[0-9A-Za-z_-]{58}", rnd(58, 3.5)),
    token("infracost_token", "api_token", r"\bico-[A-Za-z0-9]{32}\b", rnd(32, 3.0)),
    token("intra42_secret", "api_token", r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b"),
    token("linear_key", "api_token", r"\blin_api_[A-Za-z0-9]{40}\b", rnd(40, 3.5)),
    token("maxmind_key", "api_token", r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b", rnd(30, 3.5)),
    token("notion_token", "api_token",
          r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b|\bsecret_[A-Za-z0-9]{43}\b",
          _mixed(3.5)),
    token("newrelic_key", "api_token",
          r"\b(?:NRAK-[A-Z0-9]{27}\b|NRII-[A-Za-z0-9-]{32}|NRJS-[a-f0-9]{19}\b)", rnd(20, 3.0)),
    token("octopus_key", "api_token",
          r"\bAPI-[A-Z0-9]{26}\b", lambda v: _digits(v) >= 4 and rnd(26, 3.5)(v),
          priority=PRI_WEAK_TOKEN),
    token("openshift_token", "api_token", r"\bsha256~[A-Za-z0-9_-]{43}", rnd(43, 3.5), tail=True),
    token("planetscale_token", "api_token", r"\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,64}",
          rnd(32, 3.0)),
    token("postman_key", "api_token", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
    token("prefect_key", "api_token", r"\bpnu_[A-Za-z0-9]{36}\b", rnd(36, 3.5)),
    token("pulumi_token", "api_token", r"\bpul-[a-f0-9]{40}\b", rnd(40, 3.0)),
    token("readme_key", "api_token", r"\brdme_[a-z0-9]{70}\b", rnd(70, 3.0)),
    token("rubygems_key", "api_token", r"\brubygems_[a-f0-9]{48}\b", rnd(48, 3.0)),
    token("scalingo_token", "api_token", r"\btk-us-[A-Za-z0-9_-]{48}", rnd(48, 3.5), tail=True),
    token("sendinblue_key", "api_token", r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"),
    token("sentry_token", "api_token",
          r"\b(?:sntrys_eyJpYXQiO[A-Za-z0-9+/=_]{50,}|sntryu_[a-f0-9]{64}\b)"),
    token("settlemint_token", "api_token", r"\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16}\b", rnd(16, 3.0)),
    token("shippo_token", "api_token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b", rnd(40, 3.0)),
    token("shopify_token", "api_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", rnd(32, 3.0)),
    token("sourcegraph_token", "api_token",
          r"\bsgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}\b"),
    token("square_token", "api_token",
          r"\b(?:sq0atp-[A-Za-z0-9_-]{22,60}|sq0csp-[A-Za-z0-9_-]{40,50})",
          rnd(22, 3.5)),
    token("square_access_token", "api_token", r"\bEAAA[A-Za-z0-9_-]{60}", _mixed(4.0), tail=True),
    token("typeform_token", "api_token", r"\btfp_[A-Za-z0-9_.=-]{59}", rnd(59, 3.5)),
    token("yandex_token", "api_token",
          r"\b(?:t1\.[A-Za-z0-9_-]+=*\.[A-Za-z0-9_-]{86}=*|AQVN[A-Za-z0-9_-]{35,38}"
          r")", rnd(35, 3.5)),
    token("mailgun_key", "api_token", r"\b(?:pub)?key-[a-f0-9]{32}\b", rnd(32, 3.0)),
    token("mapbox_token", "api_token", r"\b[ps]k\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}"),
    token("mailchimp_key", "api_token", r"\b[a-f0-9]{32}-us[0-9]{1,2}\b", rnd(32, 3.0)),
    token("telegram_bot_token", "api_token", r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{33}", rnd(33, 3.5),
          tail=True),
    token("discord_bot_token", "api_token",
          r"\b[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38"
          r"}", _mixed(4.0), tail=True),
    token("discord_webhook", "webhook_url",
          r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<s>[A-Za"
          r"-z0-9_-]{60,68})"),
    token("teams_webhook", "webhook_url",
          r"https://[A-Za-z0-9-]+\.webhook\.office\.com/webhookb2/(?P<s>[^\s\"'<>\\]{40,})"),
    token("sidekiq_secret", "api_token",
          r"(?i)BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[ \t]*[=:][ \t]*[\"']?(?P<s>[a-f0-9]{8"
          r"}:[a-f0-9]{8})"),
)  # fmt: skip


def _digits(value: str) -> int:
    return sum(c.isdigit() for c in value)
