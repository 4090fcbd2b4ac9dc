"""Secrets a run was given are never stored: redacted by name and by value shape, kept out of
snapshots, and scrubbed from the logs bathos keeps.

    >>> redactor = Redactor()
    >>> redactor.argv(["--api-key", "sk-live-4f9a8b7c6d5e4f3a2b1c", "--lr=0.1"])
    ('--api-key', '<redacted>', '--lr=0.1')
    >>> redactor.text("postgresql://ada:hunter2@db/x")
    'postgresql://ada:<redacted>@db/x'

A *name* (an option, a parameter, an environment variable) is read as words (split at `-`, `_`,
`.`, digits and camelCase: `authToken` is `auth token`). It looks secret when a word says so
anywhere (`password`, `secret`, `credentials`, `auth`, `private`, `cookie`, `session`, `cert` …,
or a run-together `PGPASSWORD`, `APIKEY`), or when it ends in `token`, `pass` or `pw` that no
tokenizer word qualifies (`--hf-token` is secret, `--pad-token` and `--token-budget` are not), or
has `key` qualified as a secret (`--api-key`, `ssh_key`), upper-case as environment variables
spell it (`MY_KEY`), or alone (`--key`). So `--n-passes`, `--keyframes`, `--tokenizer`,
`--max-tokens`, `--sort-key` and `--author` are not secret. A *value* looks secret by its shape,
whatever its name: well-known token prefixes, JWTs, `Bearer …`, URL passwords, `password=` in a
DSN, PEM private keys. `.bth.toml [secrets]` adds names, value patterns and file globs.

A Redactor remembers each value it took out, so the same values can be scrubbed from logs.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

REDACTED = "<redacted>"
MIN_SCRUBBED_CHARS = 6  # shorter values are too common to replace in a log
_MAX_DEPTH = 64  # of results walked for secrets (deeper parts are kept as they are)

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")  # camelCase and ALL_CAPS words
_ANYWHERE = frozenset({
    "secret", "secrets", "password", "passwords", "passwd", "passphrase", "credential",
    "credentials", "creds", "auth", "authorization", "cookie", "cookies", "session", "private",
    "signature", "cert", "bearer", "apikey", "pgpass", "dbpass",
})
_RUN_TOGETHER = ("password", "passwd", "secret", "apikey")  # PGPASSWORD, CLIENTSECRET
_AT_END = frozenset({"token", "pass", "pw"})
_NOT_SECRET_BEFORE_END = frozenset({  # a tokenizer's tokens, counts and budgets
    "pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start", "end", "stop", "sos",
    "max", "min", "num", "new", "first", "second", "by",
})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "priv", "ssh", "auth", "signing", "encryption",
    "master", "license", "client", "app", "account", "service", "consumer", "deploy", "gpg",
})
_DSN_PASSWORD = frozenset({"pwd"})  # `Pwd=` in an ODBC string: only as an assignment


def is_secret_name(name: str) -> bool:
    """True when an option, parameter or variable name looks like it holds a secret."""
    words = _WORD.findall(name)
    lower = [w.lower() for w in words]
    for i, word in enumerate(lower):
        before = lower[i - 1] if i else None
        if word in _ANYWHERE or word.endswith(_RUN_TOGETHER):
            return True
        if word in _AT_END and i == len(lower) - 1 and before not in _NOT_SECRET_BEFORE_END:
            return True
        if word == "key" and (len(lower) == 1 or before in _KEY_QUALIFIERS or words[i] == "KEY"):
            return True
    return False


SECRET_FILES = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", "_netrc", ".pgpass",
    ".git-credentials", "credentials*", ".pypirc", ".npmrc",
)


_PREFIXES = "|".join((
    r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic and friends
    r"[rs]k_(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe
    r"gh[pousr]_[A-Za-z0-9]{20,}", r"github_pat_[A-Za-z0-9_]{20,}",
    r"glpat-[A-Za-z0-9_-]{20,}", r"xox[abprs]-[A-Za-z0-9-]{10,}",  # GitLab, Slack
    r"(?:AKIA|ASIA)[0-9A-Z]{16}", r"AIza[0-9A-Za-z_-]{35}",  # AWS, Google
    r"hf_[A-Za-z0-9]{20,}",  # Hugging Face
    r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # a JWT
))
# The value shapes: (hints, pattern, flags, the group holding the secret). A rule runs only on a
# text holding one of its hints (lower-cased), and is compiled the first time one does: most
# arguments (`1000`, `data/train.csv`) never pay for a regex. Only the secret's group is
# replaced, so `Bearer <redacted>` still says what was given.
_RULES: tuple[tuple[tuple[str, ...], str, int, int], ...] = (
    (("-----begin",), r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----(.*?)(?:-----END \1-----|\Z)",
     re.DOTALL, 2),
    (("://",), r"(?<=://)[^/@:\s]*:([^/\s]*)@", 0, 1),  # scheme://user:password@
    (("://",), r"(?<=://)([A-Za-z0-9_-]{20,})@", 0, 1),  # scheme://token@
    (("bearer", "basic"), r"(?<![A-Za-z])(?i:bearer|basic)\s+((?=[A-Za-z]*[0-9._~+/=-])"
     r"[A-Za-z0-9._~+/=-]{8,})", 0, 1),
    (("sk-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox",
      "akia", "asia", "aiza", "hf_", "eyj"),
     rf"(?<![A-Za-z0-9_])(?:{_PREFIXES})", 0, 0),
    (("=",), r"(?<![\w.-])(-{0,2}[A-Za-z][\w.-]*)=(\"[^\"]*\"|'[^']*'|[^\s;&,\"']+)", 0, 2),
)
_ASSIGNMENT = len(_RULES) - 1  # `name=value`: redacted only when the name looks secret


@functools.cache
def _compiled(rule: int) -> re.Pattern[str]:
    _, pattern, flags, _ = _RULES[rule]
    return re.compile(pattern, flags)


def _is_secret_assignment(match: re.Match[str]) -> bool:
    """`password=y`, `db.token=…`, `Pwd=…;` (in a DSN, a query string, an override)."""
    name = match.group(1)
    return is_secret_name(name) or name.lower().lstrip("-") in _DSN_PASSWORD


def _header(token: str) -> tuple[str, str] | None:
    """`X-Api-Key: abc` as one argument (curl -H): its name and value."""
    name, sep, value = token.partition(":")
    if sep and value.strip() and re.fullmatch(r"[A-Za-z][\w-]*", name):
        return name, value
    return None


class Redactor:
    """Redacts secrets and remembers the values it took out (`found`), for `scrub`.

    `names` and `values` are extra regular expressions (from `.bth.toml [secrets]`): a name
    matching one is secret; a value's match of one is redacted (only its first group when the
    pattern has one).
    """

    def __init__(self, names: Sequence[str] = (), values: Sequence[str] = ()) -> None:
        self._names = [re.compile(p, re.IGNORECASE) for p in names]
        self._values = [re.compile(p) for p in values]
        self.found: set[str] = set()

    def is_secret_name(self, name: str) -> bool:
        return is_secret_name(name) or any(p.search(name) for p in self._names)

    def value(self, name: str, value: str) -> str:
        """`value` as stored under `name`: all of it redacted when the name looks secret."""
        if self.is_secret_name(name) and value.lower() not in ("true", "false", ""):
            self._take(value)
            return REDACTED
        return self.text(value)

    def text(self, text: str) -> str:
        """`text` with every secret-shaped part replaced by `<redacted>`."""
        if not text:
            return text
        folded = text.lower()
        for rule, (hints, _, _, group) in enumerate(_RULES):
            if any(hint in folded for hint in hints):
                condition = _is_secret_assignment if rule == _ASSIGNMENT else None
                text = _compiled(rule).sub(functools.partial(self._replace, group, condition),
                                           text)
        for pattern in self._values:
            text = pattern.sub(functools.partial(self._replace, min(pattern.groups, 1), None),
                               text)
        return text

    def argv(self, argv: Iterable[str]) -> tuple[str, ...]:
        """`--api-key X`, `-api-key X` and `--api-key=X` by name, any argument by value shape.

        A one-letter name (`-p X`) is never secret: `-p` is as often a port as a password.
        """
        out: list[str] = []
        waiting: str | None = None  # a secret option whose value is the next argument
        for token in argv:
            if waiting is not None and not token.startswith("--"):
                out.append(self.value(waiting, token))
                waiting = None
                continue
            waiting = None
            dashes = len(token) - len(token.lstrip("-"))
            name, sep, value = token[dashes:].partition("=") if dashes else ("", "", "")
            header = _header(token) if not name else None
            if name and self.is_secret_name(name):
                out.append(f"{token[:dashes]}{name}={self.value(name, value)}" if sep else token)
                waiting = None if sep or name.startswith("no-") else name
            elif header is not None and self.is_secret_name(header[0]):
                out.append(f"{header[0]}: {self.value(header[0], header[1].strip())}")
            else:
                out.append(self.text(token))
        return tuple(out)

    def params(self, params: Mapping[str, str | list[str]]) -> dict[str, str | list[str]]:
        return {key: [self.value(key, v) for v in value] if isinstance(value, list)
                else self.value(key, value) for key, value in params.items()}

    def data(self, value: Any, depth: int = 0) -> Any:
        """JSON-like data (results) with secret strings redacted: a string under a secret-looking
        key, or a secret-shaped one anywhere. Numbers are never secrets, so metrics stay."""
        if isinstance(value, str):
            return self.text(value)
        if depth >= _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {key: self.value(str(key), item) if isinstance(item, str)
                    else self.data(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item, depth + 1) for item in value]
        return value

    def scrub(self, data: bytes) -> bytes:
        """`data` (a log) with every value found so far replaced, longest first."""
        for secret in self._scrubbed():
            data = data.replace(secret, REDACTED.encode())
        return data

    def scrub_partial(self, data: bytes) -> tuple[bytes, bytes]:
        """The next part of a log as it streams, scrubbed and split in two: what can be passed
        on now, and its end that may be the start of a secret the next part completes (give it
        back in front of that part; `scrub` the last). Nothing is held when nothing is secret."""
        secrets = self._scrubbed()
        if not secrets:
            return data, b""
        data = self.scrub(data)
        held = 0
        for secret in secrets:
            for size in range(min(len(secret) - 1, len(data)), held, -1):
                if data.endswith(secret[:size]):
                    held = size
                    break
        return data[:len(data) - held], data[len(data) - held:]

    def _scrubbed(self) -> list[bytes]:
        """The values `scrub` replaces, longest first."""
        return [secret.encode("utf-8", "surrogateescape")
                for secret in sorted(self.found, key=len, reverse=True)
                if len(secret) >= MIN_SCRUBBED_CHARS]

    def _take(self, value: str) -> None:
        if REDACTED not in value:
            self.found.add(value.strip().strip("\"'"))

    def _replace(self, group: int, condition: Callable[[re.Match[str]], bool] | None,
                 match: re.Match[str]) -> str:
        whole = match.group(0)
        part = match.group(group)
        if not part or REDACTED in part or (condition is not None and not condition(match)):
            return whole
        self._take(part)
        start, end = match.start(group) - match.start(0), match.end(group) - match.start(0)
        return whole[:start] + REDACTED + whole[end:]


def is_secret_file(relpath: str, extra: Sequence[str] = ()) -> bool:
    """An untracked file that must not be snapshotted: `.env`, `*.pem`, `id_rsa*` … or `extra`.

    A glob without `/` matches the file's name in any folder; one with `/`, the whole path.
    """
    by_name, by_path = _file_patterns(tuple(extra))
    return bool(by_name.match(PurePosixPath(relpath).name) or (by_path and by_path.match(relpath)))


@functools.cache
def _file_patterns(extra: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """All globs as one regex each for names and paths: a tree may hold tens of thousands of
    untracked files."""
    globs = (*SECRET_FILES, *extra)
    by_name = re.compile("|".join(fnmatch.translate(g) for g in globs if "/" not in g))
    paths = [fnmatch.translate(g) for g in globs if "/" in g]
    return by_name, re.compile("|".join(paths)) if paths else None
