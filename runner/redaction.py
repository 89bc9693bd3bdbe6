"""Nothing secret and nothing unbounded leaves the runner.

Every text an operation returns passes through :func:`bounded_text`, and every other string a
result carries through :func:`redact_strings` at the worker's one exit (errors, findings' inputs,
URLs, health-check output). Secrets become ``[redacted]``:

- tokens of a known format, found by detect-secrets' maintained detectors (AWS, GitHub, GitLab,
  Slack webhooks, Stripe, SendGrid, npm, PyPI, OpenAI, JWTs, ...) and a few it lacks or matches
  only in part (Slack ``xoxb-``/``xapp-`` tokens with capitals, Hugging Face ``hf_``, GitHub
  fine-grained ``github_pat_``, Google API keys, Grafana ``glsa_`` and legacy ``eyJrIjoi`` keys,
  OpenAI ``sk-proj-``, bare ``npm_``, GitLab's routable tokens, an AWS secret beside its key id);
- a token as a URL's only user (``https://TOKEN@host``), presigned URLs' signatures, and
  ``Cookie:``/``Set-Cookie:`` values;
- PEM private-key blocks, whole (also when a log tail starts or ends inside one, and in JSON with
  ``\\n`` escapes);
- credentials in URLs (``scheme://user:pass@host``, an empty user, a password holding ``@`` or
  ``/``), ``curl -u user:pass``, the value of any ``Authorization:`` header;
- values of names that say secret (TOKEN, SECRET, PASSWORD, KEY, CREDENTIAL...): quoted, up to
  the next space in a log's key=value, and to the end of the line where the name starts the line
  (an env dump or a config file: ``DATABASE_PASSWORD=abc,def`` loses ``,def`` too).

Over-redacting is the safe side: a diagnosis loses a word, never a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector

from profbot.ops.contract import TextOutput

REDACTED = "[redacted]"
# What one text may weigh on the job bus (a result in Redis). Not a message's size: front ends show
# long text as a file (Slack: an upload in the thread), so a profiler log's last 256 KiB (what
# read_file takes from the end of a file) arrives whole, and a log tail of up to 2,000 lines too.
MAX_LINES = 10_000
MAX_BYTES = 256 * 1024
MAX_LINE_CHARS = 2000

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PWD|KEY|CREDENTIAL)", re.IGNORECASE)

# detect-secrets' format detectors whose every match is a secret. Left out: the high-entropy and
# keyword heuristics (the rules below do names), public IPs (diagnoses need them), and detectors
# whose short patterns match ordinary words in logs (Artifactory's AP..., Twilio's AC/SK...,
# Telegram's digits:chars, Mailchimp's hex-us).
FORMAT_DETECTORS: tuple[type[RegexBasedDetector], ...] = (
    AWSKeyDetector,
    AzureStorageKeyDetector,
    DiscordBotTokenDetector,
    GitHubTokenDetector,
    GitLabTokenDetector,
    JwtTokenDetector,
    NpmDetector,
    OpenAIDetector,
    PypiTokenDetector,
    SendGridDetector,
    SlackDetector,
    SquareOAuthDetector,
    StripeDetector,
)

_SECRET_WORD = r"(?:token|secret|passw(?:or)?d|pwd|credential|key)"  # noqa: S105 - words, not a password
_PEM = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"

# Token formats that detect-secrets matches only in part (its GitLab pattern takes 20 characters of
# a routable token, its OpenAI one no project key) or not at all: applied before its detectors, so
# a token is replaced whole. Each pattern's ``secret`` group is replaced; ``keep`` stays.
_WIDE_FORMATS = [
    re.compile(r"(?P<secret>\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})"),  # Grafana service-account token
    re.compile(r"(?P<secret>\beyJrIjoi[A-Za-z0-9+/=_-]{20,})"),  # legacy Grafana API key: base64 of {"k":...
    re.compile(r"(?P<secret>\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})"),  # OpenAI
    re.compile(r"(?P<secret>\bnpm_[A-Za-z0-9]{36})"),
    re.compile(r"(?P<secret>\bgl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-[0-9A-Za-z_.-]{20,})"),  # GitLab
    # An AWS secret access key beside its key id (a credentials CSV, `aws configure list`).
    re.compile(
        r"(?P<keep>\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}[\s,;:|\"'=]+)(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
    ),
]

_PATTERNS = [
    # PEM private keys: the block, or what a tail holds of it (begin to the end of the text, or
    # base64 lines up to an end line).
    re.compile(r"(?P<keep>" + _PEM + r")(?P<secret>.*?)(?=" + _PEM_END + r"|\Z)", re.DOTALL),
    re.compile(r"(?P<secret>(?:^[A-Za-z0-9+/=]+\r?\n)+)(?P<keep>" + _PEM_END + r")", re.MULTILINE),
    # Token formats detect-secrets lacks, or matches in part (its Slack pattern stops at a capital).
    re.compile(r"(?P<secret>\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{8,})"),
    re.compile(r"(?P<secret>\bhf_[A-Za-z0-9]{20,})"),
    re.compile(r"(?P<secret>\bgithub_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"(?P<secret>\bAIza[0-9A-Za-z_-]{35})"),
    # scheme://user:password@host: a password may hold @ and / (the last @ before a space ends it);
    # the user may be empty (redis://:pw@host).
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/?#@]*:)(?P<secret>[^\s]+?)(?=@[^\s@]*(?:\s|$))", re.IGNORECASE),
    # A token as the URL's only user (https://TOKEN@host: git remotes, pip indexes).
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://)(?P<secret>[^\s:/?#@]{16,})(?=@)", re.IGNORECASE),
    # Presigned URLs: the signature and credential parameters (S3, GCS, Azure SAS).
    re.compile(
        r"(?P<keep>[?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential"
        r"|sig|signature)=)(?P<secret>[^&\s\"'#]+)",
        re.IGNORECASE,
    ),
    # Cookie: and Set-Cookie: values, to the end of the line.
    re.compile(r"(?P<keep>\b(?:set-)?cookie[\"']?\s*:\s*)(?P<secret>[^\r\n]+)", re.IGNORECASE),
    # curl -u user:password, --user user:password, --proxy-user
    re.compile(r"(?P<keep>(?<![\w-])(?:-u|--user|--proxy-user)\s*[\"']?[^\s:\"']*:)(?P<secret>[^\s\"']+)"),
    # Authorization: <scheme> <credentials> (Bearer, Basic, Token, ApiKey, anything), and bare
    # bearer/basic credentials elsewhere.
    re.compile(
        r"(?P<keep>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|apikey|digest)\s+)?)"
        r"(?P<secret>[^\"'\r\n]+)",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<keep>\b(?:bearer|basic)\s+)(?P<secret>[A-Za-z0-9._~+/=-]{6,})", re.IGNORECASE),
    # NAME="value with spaces" / NAME: 'value' where NAME looks secret
    re.compile(
        r"(?P<keep>\b[\w.-]*" + _SECRET_WORD + r"[\w.-]*[\"']?\s*[=:]\s*(?P<q>[\"']))(?P<secret>[^\"'\n]*?)(?=(?P=q))",
        re.IGNORECASE,
    ),
    # A secret name starting the line (env dumps, .env, YAML): the value runs to the line's end.
    re.compile(
        r"(?P<keep>^[ \t-]*(?:export\s+)?[\w.-]*" + _SECRET_WORD + r"[\w.-]*\s*[=:][ \t]*)(?P<secret>[^\"'\s][^\r\n]*)",
        re.IGNORECASE | re.MULTILINE,
    ),
    # NAME=value or NAME: value inside a line (log key=values): up to the next space or separator.
    re.compile(
        r"(?P<keep>\b[\w.-]*" + _SECRET_WORD + r"[\w.-]*[\"']?\s*[=:]\s*)(?P<secret>[^\s\"';&]+)",
        re.IGNORECASE,
    ),
    # command-line flags: --auth-token VALUE, -password VALUE
    re.compile(
        r"(?P<keep>(?<![\w-])--?[\w-]*" + _SECRET_WORD + r"[\w-]*\s+)(?P<secret>[^\s\"'-][^\s\"']*)", re.IGNORECASE
    ),
]


# What every pattern above and every detector needs in its match, lower-cased: a text with none of
# these holds no secret and skips the ~30 patterns (a flame profile's 8,192 function names; plain
# substring tests are ten times faster than one regex alternation). A pattern added above needs its
# trigger here; the corpus test checks every sample trips one.
_TRIGGERS = (
    "://", "-u", "--user", "author", "bearer", "basic", "token", "secret", "passw", "pwd", "credential",
    "key", "-----", "xox", "xapp", "hf_", "github_pat_", "aiza", "a3t", "abia", "acca", "akia", "asia",
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-",
    "glptt-", "glagent-", "gloas-", "gr1348941", "eyj", "npm_", "sk-", "pypi-", "sg.", "sq0csp-", "k_live_",
    "glsa_", "cookie", "sig=", "signature=", "x-amz-", "x-goog-",
)  # fmt: skip


def may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    # Discord's bot tokens have no prefix: its one pattern decides.
    return any(trigger in lowered for trigger in _TRIGGERS) or any(
        p.search(text) for p in DiscordBotTokenDetector.denylist
    )


def _patterns_of(detector: type[RegexBasedDetector]) -> list[re.Pattern[str]]:
    # ``denylist`` is an abstract property on the base class and a tuple on each detector.
    return list(cast(Iterable[re.Pattern[str]], detector.denylist))


def _format_patterns(detectors: Iterable[type[RegexBasedDetector]]) -> list[re.Pattern[str]]:
    return [pattern for detector in detectors for pattern in _patterns_of(detector)]


_FORMATS = _format_patterns(FORMAT_DETECTORS)
_DISCORD = _patterns_of(DiscordBotTokenDetector)


def redact(text: str) -> tuple[str, int]:
    """``text`` with secrets replaced, and how many were replaced."""
    if not may_hold_secret(text):
        return text, 0
    count = 0

    def replace_format(match: re.Match[str]) -> str:
        # A detector's first group starts the secret inside its match (AWS's key after its name),
        # or is the token's own prefix (GitHub's ghp_, GitLab's glpat-): replaced from there to
        # the match's end, so a prefix group never leaves the token's body behind.
        nonlocal count
        count += 1
        start = match.start(1) if match.re.groups else -1
        if start < 0:
            return REDACTED
        return match.group(0)[: start - match.start(0)] + REDACTED

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        secret = match.group("secret")
        keep = match.groupdict().get("keep") or ""
        if secret == REDACTED:
            return match.group(0)
        if REDACTED not in secret:  # else a rule before counted this secret; this one widens it
            count += 1
        return (keep + REDACTED) if match.start("secret") > match.start(0) else (REDACTED + keep)

    for pattern in _WIDE_FORMATS:
        text = pattern.sub(replace, text)
    for pattern in _FORMATS:
        text = pattern.sub(replace_format, text)
    for pattern in _PATTERNS:
        text = pattern.sub(replace, text)
    return text, count


def redact_strings(value: Any) -> Any:
    """Every string in a JSON-like value (dicts, lists) redacted: what a result carries besides its
    texts (a URL, an error, a health check's output) leaves the runner as its texts do."""
    if isinstance(value, str):
        return redact(value)[0]
    if isinstance(value, dict):
        return {key: redact_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_strings(item) for item in value]
    return value


def redact_env_value(name: str, value: str) -> str:
    if SECRET_NAME.search(name):
        return REDACTED
    return redact(value)[0]


def bounded_text(
    text: str, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES, keep: str = "last"
) -> TextOutput:
    """Redact, then keep at most ``max_lines`` lines and ``max_bytes`` bytes (the last ones for logs,
    ``keep="first"`` for files), counting what was cut."""
    redacted, redactions = redact(text)
    lines = redacted.splitlines()
    omitted_lines = max(0, len(lines) - max_lines)
    lines = lines[-max_lines:] if keep == "last" else lines[:max_lines]
    lines = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…" for line in lines]
    kept: list[str] = []
    size = 0
    ordered = reversed(lines) if keep == "last" else iter(lines)
    for line in ordered:
        size += len(line.encode()) + 1
        if size > max_bytes:
            break
        kept.append(line)
    if keep == "last":
        kept.reverse()
    omitted_bytes = sum(len(line.encode()) + 1 for line in lines) - sum(len(line.encode()) + 1 for line in kept)
    omitted_lines += len(lines) - len(kept)
    return TextOutput(lines=kept, omitted_lines=omitted_lines, omitted_bytes=omitted_bytes, redactions=redactions)
