"""Secrets known by where they stand rather than by their shape: the value of a secret-named
key (``.env``, YAML, INI, JSON, XML, CLI flags), HTTP auth headers, credentials and token
parameters in URLs, connection strings, Kubernetes ``Secret`` data and SSH key material.

The key name is kept; only the value is replaced (``DB_PASSWORD=[REDACTED:password]``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import partial

from previewgate.redaction import keynames
from previewgate.redaction.scan import (
    PRI_ASSIGNMENT,
    PRI_HEADER,
    PRI_SSH,
    PRI_URL_CREDENTIALS,
    Emit,
    Found,
    Hit,
    Rule,
    Scan,
)
from previewgate.redaction.validators import (
    char_kinds,
    has_digit,
    is_basic_credential,
    is_placeholder,
    looks_random,
    shannon_entropy,
)

# Words a secret's key holds: key, token, secret, password..., or a provider's name alone
# (``datadog_app = ...``, ``HEROKU=...``, as gitleaks finds them). A value under a bare
# provider name must look strictly random (``_assignment``), so ``github: octocat`` survives.
_KEY_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "session", "sas", "bearer")
_STEMS = "|".join((*_KEY_WORDS, *sorted(set(keynames.VENDOR_WORDS), key=len, reverse=True)))
# ``name<op>value``; the name may be quoted (also JSON-escaped: ``\"name\"``), the value is
# double-, single-, back-quoted or bare. Everything else is judged in Python.
_ASSIGNMENT = (
    rf"(?i)(?P<key>[A-Za-z0-9_.-]*(?:{_STEMS})[A-Za-z0-9_.-]*)(?P<kq>\\?[\"'])?\]?"
    r"(?P<sp1>[ \t]*)(?P<op>:=|=>|\?=|\+=|=|:)(?P<sp2>[ \t]*)"
    r"(?:\\?\"(?P<dq>(?:[^\"\\\r\n]|\\[\\/])*)\\?\"|'(?P<sq>[^'\r\n]*)'|`(?P<bq>[^`\r\n]*)`"
    r"|(?P<bare>[^\s\"'`,;&\\]+))"
)
_CODE_VALUE = re.compile(r"[()\[\]{}]|->|::|^\w+\.\w+")
_TYPE_WORDS = frozenset(
    {"str", "string", "int", "number", "bool", "boolean", "any", "bytes", "secretstr", "none",
     "optional", "undefined", "null", "object", "unknown", "never", "void", "char", "text"}
)  # fmt: skip
_CONN_CONTEXT = re.compile(
    rb"(?i)(?:server|data source|host|hostname|database|initial catalog|user id|uid|dbname|"
    rb"endpoint|addr|address|port)\s*="
)
DB_SCHEMES = frozenset(
    {
        "postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redis",
        "rediss", "amqp", "amqps", "mssql", "sqlserver", "oracle", "cockroachdb", "clickhouse",
        "cassandra", "couchbase", "neo4j", "neo4j+s", "bolt", "memcached", "nats", "kafka",
        "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2", "mysql+pymysql",
        "mysql+aiomysql", "mysql+mysqldb", "mssql+pyodbc", "sqlite", "db2", "snowflake",
        "elasticsearch", "influxdb", "rabbitmq", "ldap", "ldaps", "mqtt", "mqtts",
    }
)  # fmt: skip


def _value_span(found: Found) -> tuple[int, int, bool] | None:
    for name, quoted in (("dq", True), ("sq", True), ("bq", True), ("bare", False)):
        if found.has(name):
            start, end = found.span(name)
            return start, end, quoted
    return None


def _literal(found: Found, scan: Scan, value: str, quoted: bool) -> bool:
    """Whether a bare value is a literal (``.env``, YAML, INI) rather than code (a variable,
    a call, a type annotation)."""
    if quoted:
        return True
    if _CODE_VALUE.search(value) or value.lower() in _TYPE_WORDS:
        return False
    op = scan.text(*found.span("op"))
    spaced = found.span("sp1")[1] > found.span("sp1")[0]
    identifier = value.replace("_", "").replace("-", "").isalpha()
    after = scan.byte_after(found.span("bare")[1])
    if op == ":" and after in (ord(","), ord(";")) and identifier:
        return False  # ``apiKey: someVariable,`` in a JS object
    if op in ("=", ":=") and spaced and identifier:
        return False  # ``token = other_token`` in code
    return not value.startswith(("$", "%", "@", "!", "&", "*"))


def _category_in_context(category: str, scan: Scan, start: int, end: int) -> str:
    """A password inside ``Server=...;Password=...`` or ``host=... password=...`` is the
    password of a connection string."""
    if category != "password":
        return category
    line = scan.data[scan.line_start(start, 256) : scan.line_end(end, 256)]
    if scan.byte_after(end) == ord(";") or _CONN_CONTEXT.search(line):
        return "connection_string_password"
    return category


_AUTH_SCHEME = re.compile(
    r"(?i)^(?:bearer|basic|token|bot|digest|apikey|api-key|sso-key|key|dpop|negotiate|ntlm)\s+"
)


_BLOCK_SCALARS = frozenset({"|", "|-", "|+", ">", ">-", ">+"})
_REST_WORDS = re.compile(rb"(?: [^\s,{}\[\]:#]+)+")


def _yaml_words(scan: Scan, end: int) -> int:
    """An unquoted YAML password may hold spaces: it runs to the end of the line (or a
    comment), unless the line goes on like a flow mapping."""
    line_end = scan.line_end(end)
    rest = _REST_WORDS.match(scan.data, end, line_end)
    if rest is None:
        return end
    tail = scan.data[rest.end() : line_end].strip()
    return rest.end() if not tail or tail.startswith(b"#") else end


def _yaml_block(scan: Scan, key_start: int, end: int) -> tuple[int, int] | None:
    """The lines of a YAML block scalar (``key: |`` or ``key: >-``) under a key."""
    indent = key_start - scan.line_start(key_start)
    first = scan.line_end(end)
    if first >= len(scan.data) or scan.data[end:first].strip() or scan.data[first] != 0x0A:
        return None
    start = stop = None
    offset = first + 1
    while offset < len(scan.data):
        line_end = scan.data.find(b"\n", offset)
        line_end = len(scan.data) if line_end < 0 else line_end
        line = scan.data[offset:line_end]
        depth = len(line) - len(line.lstrip(b" \t"))
        if line.strip():
            if depth <= indent:
                break
            start = offset + depth if start is None else start
            stop = offset + len(line.rstrip())
        offset = line_end + 1
    return None if start is None or stop is None else (start, stop)


def _assignment(found: Found, scan: Scan) -> Iterable[Hit]:
    key_start, key_end = found.span("key")
    if scan.data.endswith(b"[REDACTED:", 0, key_start):
        return ()  # the type in one of our markers (``[REDACTED:password] = 3``) is no key
    key = scan.text(key_start, key_end)
    category = keynames.classify(key)
    if category is None:
        return ()
    op_start, op_end = found.span("op")
    if scan.byte_after(op_end) == ord("=") or scan.byte_before(op_start) in (ord("!"), ord("<")):
        return ()  # ``==``, ``!=``, ``<=``: a comparison
    span = _value_span(found)
    if span is None:
        return ()
    start, end, quoted = span
    value = scan.text(start, end)
    if category == "auth_header":
        scheme = _AUTH_SCHEME.match(value)
        if scheme:
            start += len(value[: scheme.end()].encode())
            value = value[scheme.end() :]
    op = scan.text(op_start, op_end)
    if op == ":" and not quoted and not found.has("kq") and found.span("sp2")[1] == op_end:
        return ()  # ``user:pass@host``, ``host:port``, ``a:b``: YAML needs a space after ':'
    if not quoted and op == ":" and value in _BLOCK_SCALARS:
        block = _yaml_block(scan, found.span("key")[0], end)
        if block is None:
            return ()
        start, end = block
        value = scan.text(start, end)
        quoted = True
    elif not quoted and op == ":" and category == "password":
        end = _yaml_words(scan, end)
        value = scan.text(start, end)
    if not _literal(found, scan, value, quoted):
        return ()
    if category == "password":
        # Cheap for a password, and the type depends on the line around it: judge it now.
        if not keynames.plausible(value, category):
            return ()
        category = _category_in_context(category, scan, start, end)
        return (Hit(start, end, category, PRI_ASSIGNMENT),)
    # A bare ``key`` or a provider's name alone says less than ``api_key``: ask for more.
    strict = keynames.is_bare_key(key) or category == keynames.VENDOR_ONLY
    verify = partial(keynames.plausible, value, category, strict=strict)
    return (Hit(start, end, category, PRI_ASSIGNMENT, None, verify),)


def _flag(found: Found, scan: Scan) -> Iterable[Hit]:
    category = keynames.classify(scan.text(*found.span("key")))
    start, end = found.span("s")
    value = scan.text(start, end)
    if category is None or value.startswith("-") or not keynames.plausible(value, category):
        return ()
    return (Hit(start, end, category, PRI_ASSIGNMENT),)


def _fixed(category: str, priority: int = PRI_ASSIGNMENT, min_len: int = 4) -> Emit:
    def emit(found: Found, scan: Scan) -> Iterable[Hit]:
        start, end = found.span("s")
        value = scan.text(start, end)
        if len(value) < min_len or is_placeholder(value) or value.startswith("-"):
            return ()
        return (Hit(start, end, _category_in_context(category, scan, start, end), priority),)

    return emit


def _header(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    value = scan.text(start, end)
    if len(value) < 8 or is_placeholder(value) or shannon_entropy(value) < 2.5:
        return ()
    if not has_digit(value) and (len(value) < 20 or char_kinds(value) < 2):
        return ()  # ``anonymous``, ``admin.headers``: a word or code, not a credential
    return (Hit(start, end, "auth_header", PRI_HEADER),)


def _bearer(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if not looks_random(scan.text(start, end), min_len=16, min_entropy=3.0):
        return ()
    return (Hit(start, end, "auth_header", PRI_HEADER),)


def _basic(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if not is_basic_credential(scan.text(start, end)):
        return ()
    return (Hit(start, end, "auth_header", PRI_HEADER),)


def _scheme_before(scan: Scan, index: int) -> str:
    """The URL scheme whose authority or query ``index`` is in (lower case, '' if none)."""
    floor = max(scan.line_start(index), index - 2048)
    mark = scan.data.rfind(b"://", floor, index)
    if mark < 0:
        return ""
    start = mark
    while start > floor and scan.data[start - 1] in _SCHEME_CHARS:
        start -= 1
    return scan.data[start:mark].decode("ascii", "replace").lower()


_SCHEME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-:")


def _url_credentials(found: Found, scan: Scan) -> Iterable[Hit]:
    scheme = scan.text(*found.span("scheme")).lower()
    start, end = found.span("s")
    password = scan.text(start, end)
    if is_placeholder(password) or password.lower() in ("pass", "pw", "pwd", "x"):
        return ()
    database = scheme in DB_SCHEMES or scheme.startswith("jdbc:")
    category = "connection_string_password" if database else "url_credentials"
    return (Hit(start, end, category, PRI_URL_CREDENTIALS),)


def _url_token_user(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if not looks_random(scan.text(start, end), min_len=16, min_entropy=3.3):
        return ()
    return (Hit(start, end, "url_credentials", PRI_URL_CREDENTIALS),)


_WEAK_PARAMS = frozenset({"key", "code", "sig", "signature", "session", "state", "auth", "sas"})
_PASSWORD_PARAMS = frozenset({"password", "passwd", "pwd", "pass"})


def _url_param(found: Found, scan: Scan) -> Iterable[Hit]:
    name = scan.text(*found.span("key")).lower()
    start, end = found.span("s")
    value = scan.text(start, end)
    if is_placeholder(value):
        return ()
    if name in _PASSWORD_PARAMS:
        if len(value) < 4:
            return ()
        scheme = _scheme_before(scan, start)
        database = scheme in DB_SCHEMES or scheme.startswith("jdbc")
        if not scheme:  # ``Server=...;Password=...``: a connection string, not a URL
            line = scan.data[scan.line_start(start) : scan.line_end(end)]
            database = bool(_CONN_CONTEXT.search(line))
        category = "connection_string_password" if database else "url_credentials"
        return (Hit(start, end, category, PRI_URL_CREDENTIALS),)
    strict = name in _WEAK_PARAMS
    if not looks_random(value, min_len=16 if strict else 8, min_entropy=3.3 if strict else 2.8):
        return ()
    return (Hit(start, end, "url_token", PRI_URL_CREDENTIALS),)


_KNOWN_HOSTS_FIELD = re.compile(r"^[A-Za-z0-9.\-_\[\]:,*?!]+$")


def _ssh_key(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if found.has("c"):
        comment_start, comment_end = found.span("c")
        comment = scan.text(comment_start, comment_end).strip()
        # ``alice@laptop`` names a person and a machine; ``deploy-key-2024`` does not.
        if "@" in comment:
            end = comment_end
    return (Hit(start, end, "ssh_key", PRI_SSH),)


def _known_host(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    hosts = scan.text(start, end)
    if "=" in hosts or '"' in hosts or not _KNOWN_HOSTS_FIELD.match(hosts):
        return ()  # authorized_keys options (``command="..."``), not hosts
    return (Hit(start, end, "ssh_known_host", PRI_SSH),)


def _hashed_host(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span()
    return (Hit(start, end, "ssh_known_host", PRI_SSH),)


PRI_K8S = PRI_ASSIGNMENT + 5  # the manifest says Secret: surer than a key name
_DOC_BREAK = re.compile(rb"(?m)^---[ \t]*$")
_DATA_BLOCK = re.compile(rb"(?m)^([ \t]*)(?:data|stringData):[ \t]*$")
_ENTRY = re.compile(rb"^([ \t]+)([\w.-]+):[ \t]*(.*?)[ \t]*$")


def _k8s_secret(found: Found, scan: Scan) -> Iterable[Hit]:
    """Every value under ``data:`` or ``stringData:`` of a ``kind: Secret`` manifest."""
    where = found.span()[0]
    breaks = scan.memo.get("yaml_documents")
    if breaks is None:
        breaks = scan.memo["yaml_documents"] = [m.start() for m in _DOC_BREAK.finditer(scan.data)]
        scan.memo["secret_documents"] = set()
    index = bisect_right(breaks, where)
    doc_start = breaks[index - 1] if index else 0
    doc_end = breaks[index] if index < len(breaks) else len(scan.data)
    if doc_start in scan.memo["secret_documents"]:
        return ()  # another ``kind: Secret`` line of a document already read
    scan.memo["secret_documents"].add(doc_start)
    hits: list[Hit] = []
    for block in _DATA_BLOCK.finditer(scan.data, doc_start, doc_end):
        indent = len(block.group(1))
        offset = block.end() + 1
        entry_indent = None
        block_scalar_indent = None
        while offset < doc_end:
            line_end = scan.data.find(b"\n", offset, doc_end)
            line_end = doc_end if line_end < 0 else line_end
            line = scan.data[offset:line_end]
            stripped = line.strip()
            depth = len(line) - len(line.lstrip(b" \t"))
            if stripped and depth <= indent:
                break
            if block_scalar_indent is not None and (not stripped or depth > block_scalar_indent):
                if stripped:
                    hits.append(Hit(offset + depth, line_end, "k8s_secret", PRI_K8S))
            else:
                block_scalar_indent = None
                entry = _ENTRY.match(line)
                if entry and (entry_indent is None or len(entry.group(1)) == entry_indent):
                    entry_indent = len(entry.group(1))
                    value = entry.group(3)
                    if value in (b"|", b"|-", b">", b">-", b"|+"):
                        block_scalar_indent = entry_indent
                    elif value and not is_placeholder(value.decode("utf-8", "replace")):
                        start = offset + entry.start(3)
                        end = offset + entry.end(3)
                        if value[:1] in (b'"', b"'") and value[-1:] == value[:1] and len(value) > 2:
                            start, end = start + 1, end - 1
                        hits.append(Hit(start, end, "k8s_secret", PRI_K8S))
            offset = line_end + 1
    return hits


_SSH_TYPES = (
    r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|"
    r"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
)
_QUOTE = r"\\?[\"']?"

RULES: tuple[Rule, ...] = (
    # --- secret-named keys: .env, shell ``export``, YAML, INI, TOML, JSON, code literals
    Rule("assignment", _ASSIGNMENT, _assignment, resume="op"),
    # --- CLI flags: ``--password hunter2``, ``--api-key=...``
    Rule("cli_flag",
         r"(?i)(?:^|[ \t])--?(?P<key>[a-z0-9-]*(?:pass|password|passwd|token|secret|api-key|"
         r"apikey|access-key|secret-key|auth)[a-z0-9-]*)(?:[ \t]+|=)[\"']?(?P<s>[^\s\"'\\]+)",
         _flag),
    # --- XML: ``<password>...</password>``, NuGet's ``<add key="ClearTextPassword" value=...>``
    Rule("xml_element",
         r"(?i)<(?P<key>(?:[A-Za-z_][\w:.-]*)?(?:pass|secret|token|key|auth|credential)[\w:.-]*)>"
         r"(?P<s>[^<\r\n]{1,300})</", _flag),
    Rule("xml_key_value",
         r"(?i)key=\\?[\"'](?P<key>[^\"'\\]{1,60})\\?[\"'][ \t]+value=\\?[\"'](?P<s>[^\"'\\]{1,30"
         r"0})",
         _flag),
    # --- tools that take a password right after a flag
    Rule("mysql_password",
         r"(?i)\b(?:mysql|mysqldump|mariadb|mysqladmin)\b[^\r\n]*?[ \t]-p(?P<s>[^\s\"'-][^\s\"']*)",
         _fixed("password")),
    Rule("sshpass_password",
         r"(?i)\bsshpass[ \t]+-p[ \t]*[\"']?(?P<s>[^\s\"']+)", _fixed("password")),
    Rule("docker_login_password",
         r"(?i)\bdocker[ \t]+login\b[^\r\n]*?[ \t](?:-p|--password)[ \t=]+[\"']?(?P<s>[^\s\"']+)",
         _fixed("password")),
    Rule("curl_user_password",
         r"(?i)\bcurl\b[^\r\n]*?[ \t](?:-u|--user)[ \t=]*[\"']?[^\s:\"']+:(?P<s>[^\s\"']+)",
         _fixed("password")),
    Rule("sql_password",
         r"(?i)\b(?:(?:with|login|encrypted|unencrypted)[ \t]+password|identified[ \t]+by)[ \t]+"
         r"'(?P<s>[^'\r\n]+)'",
         _fixed("password")),
    Rule("pgpass_line",
         r"(?m)^[A-Za-z0-9.*_-]*[A-Za-z*][A-Za-z0-9.*_-]*:(?:[0-9]+|\*):[^\s:]+:[^\s:]+:(?P<s>\S+"
         r")$",
         _fixed("password")),
    Rule("terraform_variable_default",
         r"(?s)variable[ \t]+\"(?P<key>[^\"\r\n]+)\"[ \t]*\{[^{}]*?\bdefault[ \t]*=[ \t]*\"(?P<s>"
         r"[^\"\r\n]*)\"",
         _flag),
    Rule("netrc_password",
         r"(?i)\blogin[ \t]+\S+\s+password[ \t]+(?P<s>[^\s\"']+)", _fixed("password")),
    # --- HTTP authentication headers, and bearer / basic credentials anywhere
    Rule("auth_header",
         rf"(?i)\b(?:proxy-)?authorization{_QUOTE}[ \t]*[:=][ \t]*{_QUOTE}"
         r"(?:(?:bearer|basic|token|bot|digest|apikey|sso-key|key|dpop)[ \t]+)?"
         r"(?P<s>[A-Za-z0-9._~+/=:-]{8,})", _header),
    Rule("api_key_header",
         r"(?i)\b(?:x-api-key|api-key|x-auth-token|x-access-token|private-token|x-goog-api-key|"
         r"ocp-apim-subscription-key|x-functions-key|x-vault-token|x-api-token|x-rapidapi-key|"
         r"x-algolia-api-key|dd-api-key|dd-application-key|x-honeycomb-team|circle-token|"
         rf"x-figma-token|x-shopify-access-token|x-postmark-server-token|x-master-key){_QUOTE}"
         rf"[ \t]*:[ \t]*{_QUOTE}(?P<s>[A-Za-z0-9._~+/=-]{{8,}})", _header),
    Rule("bearer", r"(?i)\bbearer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)", _bearer),
    Rule("basic", r"(?i)\bbasic[ \t]+(?P<s>[A-Za-z0-9+/]{8,}={0,2})", _basic),
    # --- URLs: ``scheme://user:password@host``, a token as the user, token parameters
    Rule("url_credentials",
         r"(?i)\b(?P<scheme>(?:jdbc:)?[a-z][a-z0-9+.-]{1,30})://[^:@/\s\"'<>\\]*:"
         r"(?P<s>[^@/\s\"'<>\\]+)@", _url_credentials),
    Rule("url_token_user",
         r"(?i)\b(?:https?|ftp|git|ssh|svn|wss?)://(?P<s>[A-Za-z0-9_.~%+-]{16,})"
         r"@", _url_token_user),
    Rule("url_param",
         r"(?i)[?&;#](?P<key>access_token|id_token|refresh_token|token|auth|auth_token|api_key|"
         r"apikey|api-key|key|secret|client_secret|password|passwd|pwd|pass|sig|signature|"
         r"x-amz-signature|x-amz-security-token|x-goog-signature|code|session|sessionid|jwt|"
         r"private_token|access_key|secret_key|sas|account_key|private-token)="
         r"(?P<s>[^&#;\s\"'<>\\]+)", _url_param),
    # --- Kubernetes Secret manifests: the values under data/stringData
    Rule("k8s_secret", r"(?m)^[ \t]*kind:[ \t]*[\"']?Secret[\"']?[ \t]*$", _k8s_secret),
    # --- SSH: public key blobs (authorized_keys, known_hosts) with a user@host comment, the
    # host field of known_hosts lines, hashed known_hosts entries
    Rule("ssh_public_key",
         rf"{_SSH_TYPES}[ \t]+(?P<s>AAAA[A-Za-z0-9+/]{{40,}}=*)(?P<c>[ \t]+[^\s\"'\\]+)"
         rf"?", _ssh_key),
    Rule("known_hosts_host",
         rf"(?m)^(?:@(?:cert-authority|revoked)[ \t]+)?(?P<s>[^\s#|@][^\s]*)[ \t]+{_SSH_TYPES}[ "
         rf"\t]+AAAA",
         _known_host),
    Rule("known_hosts_hashed", r"\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}=", _hashed_host),
)  # fmt: skip

# Keep PRI_URL_CREDENTIALS above the key-name rule: ``DATABASE_URL=postgres://u:p@h`` keeps
# the URL and replaces only the password.
assert PRI_URL_CREDENTIALS > PRI_ASSIGNMENT
