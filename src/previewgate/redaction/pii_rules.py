"""Personal and organisational data: e-mail addresses, phone numbers, IP addresses, the user
name in home-directory paths, and repository URLs (replaced by a keyed hash)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from previewgate.redaction import repo_urls
from previewgate.redaction.scan import PRI_PII, PRI_REPO, Emit, Found, Hit, Rule, Scan
from previewgate.redaction.validators import ip_is_public_interest

# Top-level "domains" that are file extensions or systemd unit types: ``icon@2x.png``,
# ``getty@tty1.service`` are not addresses.
_NOT_TLDS = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tiff", "avif", "js", "mjs",
        "cjs", "ts", "tsx", "jsx", "css", "scss", "less", "py", "pyc", "rb", "go", "rs",
        "java", "kt", "swift", "cpp", "hpp", "cs", "php", "json", "yaml", "yml", "toml", "xml",
        "html", "htm", "md", "txt", "csv", "log", "lock", "zip", "gz", "tgz", "tar", "bz2",
        "xz", "so", "dll", "exe", "bin", "map", "wasm", "woff", "woff2", "ttf", "otf", "eot",
        "pdf", "doc", "docx", "xls", "xlsx", "sh", "bat", "ps1", "service", "socket",
        "target", "timer", "mount", "slice", "scope", "device", "swap", "automount", "ipynb",
        "vue", "svelte", "dart", "lua", "pl", "pm", "ex", "exs", "erl", "hs", "ml", "sql",
    }
)  # fmt: skip
# Reserved for documentation and tests (RFC 2606, RFC 6761).
_EXAMPLE_DOMAINS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost|local\.test)$"
)
_LOCAL_STRIP = "._%+-"


_TOKEN_BREAK = frozenset(b" \t\r\n\"'<>()[]{}")


def _in_url_authority(scan: Scan, start: int) -> bool:
    """Whether ``start`` is in the ``user:password@`` part of a URL."""
    data, index, floor = scan.data, start, max(0, start - 256)
    while index > floor and data[index - 1] not in _TOKEN_BREAK:
        index -= 1
    head = data[index:start]
    scheme = head.rfind(b"://")
    return scheme >= 0 and b"/" not in head[scheme + 3 :]


def _email(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    address = scan.text(start, end)
    local, _, domain = address.rpartition("@")
    stripped = local.lstrip(_LOCAL_STRIP)
    start += len(local) - len(stripped)
    if not stripped or _in_url_authority(scan, start):
        return ()  # a URL's user part is the URL rules' business
    domain = domain.lower()
    if domain.rsplit(".", 1)[-1] in _NOT_TLDS or _EXAMPLE_DOMAINS.search(domain):
        return ()
    return (Hit(start, end, "email", PRI_PII),)


_PRIVATE_BLOCKS = frozenset({b"10.0.0.0", b"172.16.0.0", b"192.168.0.0", b"100.64.0.0"})
_VERSION_WORDS = ("version", "ver", "ver.", "release", "build", "v", "assembly")
_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Not about anyone: unspecified, loopback, broadcast and netmasks, multicast, and the
# documentation ranges (RFC 5737).
_V4_DOCS = ((192, 0, 2), (198, 51, 100), (203, 0, 113))


def _ipv4_interesting(a: int, b: int, c: int, d: int) -> bool:
    if a in (0, 127, 255) or 224 <= a <= 239:
        return False
    return (a, b, c) not in _V4_DOCS


def _ipv4(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    before = scan.byte_before(start)
    if scan.word_before(start) or before == ord("."):
        return ()
    after = scan.byte_after(end)
    if scan.word_after(end) or (after == ord(".") and scan.byte_after(end + 1) in _DIGITS):
        return ()
    if before == ord("/") and scan.byte_before(start - 1) in _LETTERS:
        return ()  # ``Chrome/120.0.0.0``
    context = scan.text(max(0, start - 12), start).lower().rstrip(" \t:=\"'(")
    if context.endswith(_VERSION_WORDS):
        return ()  # ``Version 1.0.0.0``
    a, b, c, d = (int(part) for part in scan.text(start, end).split("."))
    if not _ipv4_interesting(a, b, c, d):
        return ()
    if c == d == 0 and after != ord("/"):
        return ()  # ``2.1.0.0``: a version or a network, not a host (a CIDR still counts)
    if after == ord("/") and scan.data[start:end] in _PRIVATE_BLOCKS:
        return ()  # ``10.0.0.0/8``: the whole private range, no one's network in particular
    return (Hit(start, end, "ipv4", PRI_PII),)


_DIGITS = frozenset(b"0123456789")


def _ipv6(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if scan.word_before(start) or scan.byte_before(start) in (ord(":"), ord(".")):
        return ()
    if scan.word_after(end) or scan.byte_after(end) == ord(":"):
        return ()
    address = scan.text(start, end)
    if not any(c.isdigit() for c in address) or len(address) < 6:
        return ()
    if not ip_is_public_interest(address):
        return ()
    return (Hit(start, end, "ipv6", PRI_PII),)


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}")


def _phone(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    before = scan.byte_before(start)
    if scan.word_before(start) or before in (ord("."), ord("+"), ord("-"), ord("/"), ord("=")):
        return ()
    if scan.data[start : start + 1] == b"+" and before in (-1, ord("\n"), ord("\r")):
        return ()  # a diff line that adds a number, not a phone number
    after = scan.byte_after(end)
    if scan.word_after(end) or after in (ord("-"), ord("/")):
        return ()
    if after == ord(".") and scan.byte_after(end + 1) in _DIGITS:
        return ()
    number = scan.text(start, end)
    digits = sum(c.isdigit() for c in number)
    if not 8 <= digits <= 15 or _DATE.search(number):
        return ()
    if number.count("(") != number.count(")"):
        return ()
    return (Hit(start, end, "phone", PRI_PII),)


# Home directories of service accounts and placeholders: no person in them.
_GENERIC_USERS = frozenset(
    {
        "user", "username", "runner", "ubuntu", "ec2-user", "vagrant", "shared", "public",
        "default", "default user", "all users", "node", "app", "vscode", "codespace",
        "circleci", "jenkins", "git", "linuxbrew", "admin", "administrator", "root", "you",
        "yourname", "your-name", "your_name", "me", "name", "someone", "somebody", "<user>",
        "<username>", "$user", "${user}", "%username%", "*", "...", "…", "travis", "buildkite",
        "gitlab-runner", "docker", "www-data", "nobody", "guest", "dev", "developer", "coder",
        "jovyan", "appuser", "pi", "ansible", "centos", "fedora", "debian", "azureuser",
        "opc", "cloudshell-user", "sagemaker-user", "devcontainer", "gitpod",
    }
)  # fmt: skip
_PATH_START = frozenset(b" \t\r\n\"'=:([{,;`|<>~")


def _home(found: Found, scan: Scan) -> Iterable[Hit]:
    prefix_start = found.span("pre")[0]
    start, end = found.span("s")
    before = scan.byte_before(prefix_start)
    ok = before == -1 or before in _PATH_START
    if not ok and before == ord("/"):
        ok = scan.data[max(0, prefix_start - 7) : prefix_start].endswith(b"file://")
    if not ok and before in (ord("n"), ord("t"), ord("r")):
        ok = scan.byte_before(prefix_start - 1) == ord("\\")  # after a JSON-escaped newline
    if not ok:
        ok = bool(re.search(rb"/mnt/[a-z]$", scan.data[max(0, prefix_start - 6) : prefix_start]))
    name = scan.text(start, end)
    if not ok or name.lower() in _GENERIC_USERS or name.startswith(".") or len(name) > 64:
        return ()
    return (Hit(start, end, "home_user", PRI_PII),)


def _prompt_user(found: Found, scan: Scan) -> Iterable[Hit]:
    start, end = found.span("s")
    if scan.text(start, end).lower() in _GENERIC_USERS:
        return ()
    return (Hit(start, end, "home_user", PRI_PII),)


def _repo(kind: str) -> Emit:
    def emit(found: Found, scan: Scan) -> Iterable[Hit]:
        start, end = found.span("s")
        host = scan.text(*found.span("host"))
        path = scan.text(*found.span("path"))
        if kind == "github" and host.lower().removeprefix("www.") == "github.com":
            owner = path.split("/", 1)[0].lower()
            if owner in repo_urls.GITHUB_PAGES:
                return ()
        if kind == "gitlab" and path.split("/", 1)[0].lower() in _GITLAB_PAGES:
            return ()
        if kind == "scp" and not (path.endswith(".git") or host.lower() in _SCP_HOSTS):
            return ()
        if kind == "scp_host" and path.split("/", 1)[0].isdigit():
            return ()  # ``github.com:443/...``: a port, and the URL rule's business
        normalised = repo_urls.normalise(host, path)
        marker = repo_urls.marker(normalised, scan.hash_key)
        return (Hit(start, end, "repo_url", PRI_REPO, marker),)

    return emit


_GITLAB_PAGES = frozenset(
    {"api", "users", "groups", "explore", "help", "dashboard", "oauth", "search", "admin",
     "profile", "-", "assets", "uploads"}
)  # fmt: skip
_SCP_HOSTS = frozenset(
    {"github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "gitea.com", "ssh.dev.azure.com",
     "vs-ssh.visualstudio.com", "git.sr.ht", "heroku.com", "git.heroku.com"}
)  # fmt: skip
_SEG = r"[A-Za-z0-9_.~][A-Za-z0-9_.~-]*"
_USERINFO = r"(?:[^@/\s\"'<>\\]+@)?"
_REPO_HOSTS = (
    r"(?:www\.)?github\.com|gist\.github\.com|raw\.githubusercontent\.com|bitbucket\.org|"
    r"codeberg\.org|gitea\.com|git\.sr\.ht"
)
_NAME = r"[^/\\\s\"'<>:|*?`$\[\]{}(),;=]+"

RULES: tuple[Rule, ...] = (
    # --- e-mail addresses (not in RFC 2606 example domains)
    Rule("email",
         r"(?P<s>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})\b", _email),
    # --- phone numbers: international with a +, North American with separators
    Rule("phone_international",
         r"(?P<s>\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?)(?:[ .-]?[0-9]{2,5}){1,4})", _phone),
    Rule("phone_nanp",
         r"(?P<s>(?:1[ .-])?(?:\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}[ .-][0-9]{4}|"
         r"[2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}|[2-9][0-9]{2}\.[2-9][0-9]{2}\.[0-9]{4}))", _phone),
    # --- the user in a shell prompt (``alice@devbox:~/src$``), also after a JSON-escaped newline
    Rule("shell_prompt_user",
         r"(?m)(?:^|\\n)(?:\([A-Za-z0-9_.-]+\)[ \t]*)?(?P<pre>)(?P<s>[a-z_][a-z0-9_.-]{0,31})@"
         r"[A-Za-z0-9][A-Za-z0-9.-]*:(?:~|/)[^\s$#%>]*[$#%]", _prompt_user),
    # --- IP addresses (not loopback, unspecified, multicast or documentation ranges)
    Rule("ipv4",
         r"(?P<s>(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
         r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})", _ipv4),
    Rule("ipv6",
         r"(?P<s>(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:"
         r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?|::[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}"
         r"){0,6})"
         r"(?:%[A-Za-z0-9]+)?", _ipv6),
    # --- the user name in home directories: /home/NAME, /Users/NAME, C:\Users\NAME (also with
    # JSON-escaped backslashes and forward slashes)
    Rule("home_unix", rf"(?P<pre>/home/|/Users/)(?P<s>{_NAME})", _home),
    Rule("home_windows_spaced",
         r"(?P<pre>[A-Za-z]:(?:\\\\|\\|/)(?:Users|Documents and Settings)(?:\\\\|\\|/))"
         rf"(?P<s>{_NAME}(?: {_NAME}){{1,3}})(?:\\|/)", _home),
    Rule("home_windows",
         r"(?P<pre>[A-Za-z]:(?:\\\\|\\|/)(?:Users|Documents and Settings)(?:\\\\|\\|/))"
         rf"(?P<s>{_NAME})", _home),
    # --- repository URLs: hosted forges (owner/repo), any *.git URL, scp-style remotes, Azure
    # DevOps, the GitHub API
    Rule("repo_forge",
         rf"(?i)(?P<s>(?:git\+)?(?:https?|ssh|git)://{_USERINFO}(?P<host>{_REPO_HOSTS})(?::[0-9]+"
         rf")?/"
         rf"(?P<path>~?{_SEG}/{_SEG}))", _repo("github")),
    Rule("repo_gitlab",
         rf"(?i)(?P<s>(?:git\+)?(?:https?|ssh|git)://{_USERINFO}(?P<host>gitlab\.com)(?::[0-9]+)?/"
         rf"(?P<path>{_SEG}(?:/{_SEG}){{1,5}}))", _repo("gitlab")),
    Rule("repo_github_api",
         rf"(?i)(?P<s>https?://(?P<host>api\.github\.com)/(?P<path>repos/{_SEG}/{_SEG}))",
         _repo("api")),
    Rule("repo_azure",
         rf"(?i)(?P<s>https?://{_USERINFO}(?P<host>dev\.azure\.com|[A-Za-z0-9-]+\.visualstudio\.c"
         rf"om)/"
         r"(?P<path>(?:[^/\s\"'<>]+/){1,2}_git/[^/\s\"'<>?#]+))", _repo("azure")),
    Rule("repo_dot_git",
         rf"(?i)(?P<s>(?:git\+)?(?:https?|ssh|git)://{_USERINFO}(?P<host>[A-Za-z0-9.-]+)(?::[0-9]"
         rf"+)?/"
         rf"(?P<path>(?:{_SEG}/)*{_SEG}\.git))\b", _repo("generic")),
    Rule("repo_scp_host",
         rf"\b(?P<s>(?P<host>github\.com|gitlab\.com|bitbucket\.org|codeberg\.org):"
         rf"(?P<path>{_SEG}/{_SEG}))", _repo("scp_host")),
    Rule("repo_scp",
         rf"(?P<s>[A-Za-z0-9_.-]+@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+):(?P<path>~?{_SEG}(?"
         rf":/{_SEG})+))",
         _repo("scp")),
)  # fmt: skip
