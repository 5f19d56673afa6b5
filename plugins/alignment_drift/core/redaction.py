"""Credentials made safe to write or print: one redaction for every value that can carry one.

A credential reaches alignment-drift in a few positions: the user info of a
URI (``MLFLOW_TRACKING_URI=http://user:pw@host``, a SQL source's URL built
from an Airflow connection), a secret query parameter (``?sig=``,
``X-Amz-Signature=``, ``token=``), a secret-named field of a mapping
(a connection's ``password`` or extras, fsspec ``storage_options`` such as
``key``/``secret``/``token``), or free text quoting any of these (an error
message). :func:`redact` masks all of them with ``***`` in a string, or in
every string and secret-named field of nested dicts, lists and tuples.

Secrets known by value (a connection's password once it is resolved, the
password of the tracking URI) are registered with :func:`register_secret`;
from then on they are masked wherever they appear, in any text, and every
log record of the process is redacted before any handler sees it.

Everything alignment-drift writes or prints (MLflow records, incidents,
the spool, reports, the CLI's output and errors, the Alignment page) passes
through this module.

Examples
--------
>>> redact_uri("postgresql://mlflow:s3cret@db:5432/mlflow")
'postgresql://***@db:5432/mlflow'
>>> redact_uri("https://acct.blob.core.windows.net/c/2026-01-06.parquet?sv=2024&sig=abc%2Bdef")
'https://acct.blob.core.windows.net/c/2026-01-06.parquet?sv=2024&sig=***'
>>> redact({"uri": "s3://bucket/x", "storage_options": {"key": "AKIA1", "secret": "s3cret", "anon": False}})
{'uri': 's3://bucket/x', 'storage_options': {'key': '***', 'secret': '***', 'anon': False}}
>>> redact("could not connect to http://u:pw@mlflow:5000/api (password=hunter22)")
'could not connect to http://***@mlflow:5000/api (password=***)'
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

__all__ = [
    "MASK",
    "is_secret_name",
    "mask_registered",
    "on_secret",
    "redact",
    "redact_text",
    "redact_uri",
    "register_mapping_secrets",
    "register_secret",
    "register_uri_secrets",
    "without_credentials",
]

MASK = "***"
#: Registered secrets shorter than this are not masked by value (too likely to match ordinary text);
#: they are still masked in every structural position (user info, secret query parameters and fields).
MIN_SECRET_LENGTH = 5

_T = TypeVar("_T")
# name parts (after splitting on '_', '-', '.', and camelCase) that make a field or parameter secret
_SECRET_PARTS = frozenset(
    "password passwd passphrase pwd secret secrets token signature credential credentials apikey sas sastoken "
    "authorization cookie privatekey accountkey sharedaccesskey sharedaccesssignature".split()
)
# adjacent name parts that together make a field secret (``access_key``, ``AccountKey``, ``api-key``, ...)
_SECRET_PAIRS = frozenset(
    {
        ("access", "key"),
        ("account", "key"),
        ("private", "key"),
        ("api", "key"),
        ("secret", "key"),
        ("shared", "key"),
        ("client", "key"),
        ("master", "key"),
        ("connection", "string"),
        ("conn", "str"),
        ("keyfile", "dict"),
        ("keyfile", "json"),
    }
)
# whole names that are secret (fsspec's s3 ``key``, ``auth``, a SAS ``sig``)
_SECRET_NAMES = frozenset({"key", "auth", "pass", "sig", "keyfile"})
# query parameters that are secret in a URL only (Azure Functions' ``code``): as fields they are ordinary
_SECRET_QUERY_NAMES = frozenset({"code", "apiKey", "access_token", "id_token", "refresh_token"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
# a URI in free text: scheme://..., up to white space, a quote or a bracket
_URI_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`()\[\]{}|\\]+")
# name=value (query strings, DSNs such as 'host=db password=x', log lines), and "name": "value" (JSON, reprs)
_ASSIGNMENT = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)(?P<sep>\s*=\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,'\"<>)\]}]+)"
)
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,{}\[\]]+)"
)
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# user info in a URI that urlsplit cannot parse (an unbalanced '[' in the host, say)
_USERINFO = re.compile(r"(?P<lead>://)[^/@\s]*@")

_lock = threading.Lock()
_known: set[str] = set()
_sinks: list[Callable[[str], None]] = []
_pattern: re.Pattern[str] | None = None
_factory_installed = False


def is_secret_name(name: str) -> bool:
    """Whether a field or parameter called ``name`` holds a credential.

    >>> [is_secret_name(n) for n in ("password", "aws_secret_access_key", "X-Amz-Signature", "AccountKey")]
    [True, True, True, True]
    >>> [is_secret_name(n) for n in ("endpoint_url", "max_tokens", "monkey", "sort_key", "region_name")]
    [False, False, False, False, False]
    """
    text = _CAMEL.sub("_", str(name)).lower()
    parts = [p for p in _SPLIT.split(text) if p]
    if not parts:
        return False
    if "_".join(parts) in _SECRET_NAMES or any(p in _SECRET_PARTS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def _mask_value(value: str) -> str:
    return value[0] + MASK + value[0] if value[:1] in ("'", '"') and len(value) >= 2 else MASK


def _redact_query(query: str) -> str:
    out = []
    for item in query.split("&"):
        name, sep, value = item.partition("=")
        secret = unquote_plus(name) in _SECRET_QUERY_NAMES or is_secret_name(unquote_plus(name))
        out.append(f"{name}={MASK}" if sep and value and secret else item)
    return "&".join(out)


def redact_uri(uri: str) -> str:
    """``uri`` with its user info and the values of its secret query (and fragment) parameters masked.

    The user name goes with the password: it can be the secret itself (``https://<token>@host``).
    A URI without credentials is returned unchanged; registered secrets are masked too.

    >>> redact_uri("http://user:p%40ss@mlflow.internal/")
    'http://***@mlflow.internal/'
    >>> redact_uri("s3://bucket/key.parquet?X-Amz-Credential=AKIA&X-Amz-Signature=f00&versionId=3")
    's3://bucket/key.parquet?X-Amz-Credential=***&X-Amz-Signature=***&versionId=3'
    >>> redact_uri("sqlite:////srv/mlflow.db")
    'sqlite:////srv/mlflow.db'
    """
    text = str(uri)
    try:
        parts = urlsplit(text)
    except ValueError:
        return _by_value(_USERINFO.sub(rf"\g<lead>{MASK}@", text))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _redact_query(parts.query) if parts.query else parts.query
    fragment = _redact_query(parts.fragment) if "=" in parts.fragment else parts.fragment
    if (netloc, query, fragment) != (parts.netloc, parts.query, parts.fragment):
        text = _unsplit(text, parts.scheme, netloc, parts.path, query, fragment)
    return _by_value(text)


def without_credentials(uri: str) -> str:
    """``uri`` as a link: user info and secret query parameters removed (not masked), the rest kept.

    >>> without_credentials("https://user:pw@mlflow.example.com:5000/?token=t&x=1")
    'https://mlflow.example.com:5000/?x=1'
    """
    try:
        parts = urlsplit(str(uri))
    except ValueError:
        return redact_uri(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    kept = [
        item
        for item in parts.query.split("&")
        if item
        and not (
            unquote_plus(item.partition("=")[0]) in _SECRET_QUERY_NAMES
            or is_secret_name(unquote_plus(item.partition("=")[0]))
        )
    ]
    fragment = "" if "=" in parts.fragment else parts.fragment
    query = "&".join(kept)
    if (netloc, query, fragment) != (parts.netloc, parts.query, parts.fragment):
        return _by_value(_unsplit(str(uri), parts.scheme, netloc, parts.path, query, fragment))
    return _by_value(str(uri))


def _uri_in_text(match: re.Match[str]) -> str:
    uri = match[0]
    trail = len(uri) - len(uri.rstrip(".,;:!?"))  # sentence punctuation after a URI is not part of it
    return redact_uri(uri[: len(uri) - trail]) + uri[len(uri) - trail :]


def _unsplit(original: str, scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    """``urlunsplit`` that keeps an empty authority (``sqlite:////srv/x.db`` stays as written)."""
    authority = netloc or original[len(scheme) + 1 :].startswith("//")
    out = (f"{scheme}:" if scheme else "") + (f"//{netloc}" if authority else "") + path
    return out + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _assignment(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or match["value"].startswith(MASK):
        return match[0]
    return f"{match['name']}{match['sep']}{_mask_value(match['value'])}"


def _quoted_pair(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]):
        return match[0]
    return f"{match['q']}{match['name']}{match['q']}{match['sep']}{_mask_value(match['value'])}"


def redact_text(text: str) -> str:
    """Free text with every credential masked: URIs' user info and secret parameters, ``password=...``
    and ``"token": "..."`` pairs, ``Bearer ...`` headers, and every registered secret.

    >>> redact_text("dsn 'host=db user=etl password=hunter2 dbname=logs' refused")
    "dsn 'host=db user=etl password=*** dbname=logs' refused"
    >>> redact_text("{'secret': 'abc', 'region_name': 'eu-west-1'}")
    "{'secret': '***', 'region_name': 'eu-west-1'}"
    """
    text = str(text)
    if "://" in text:
        text = _URI_IN_TEXT.sub(_uri_in_text, text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_assignment, text)
    if ":" in text and ("'" in text or '"' in text):
        text = _QUOTED_PAIR.sub(_quoted_pair, text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {MASK}", text)
    return _by_value(text)


def redact(value: _T) -> _T:
    """``value`` with every credential masked: strings by :func:`redact_text`, secret-named fields of
    mappings by ``***`` (whatever their value), recursively through dicts, lists and tuples.

    Other values (numbers, booleans, None) are returned as they are; the input is not modified.

    >>> redact({"conn": {"password": "pw", "extra": {"token": {"refresh": "r"}}}, "rows": [1, "ftp://a:b@h"]})
    {'conn': {'password': '***', 'extra': {'token': '***'}}, 'rows': [1, 'ftp://***@h']}
    """
    return _redact(value)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        if hasattr(value, "__html__"):  # markup built by us (a chart): only registered secrets, type kept
            return type(value)(_by_value(str(value)))
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if value[k] not in (None, "", {}, []) else value[k])
            if isinstance(k, str) and is_secret_name(k)
            else _redact(value[k])
            for k in value
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(v) for v in value)
    return value


# -- secrets known by value -------------------------------------------------------------------------


def _by_value(text: str) -> str:
    pattern = _pattern
    return text if pattern is None else pattern.sub(MASK, text)


def mask_registered(text: str) -> str:
    """``text`` with only the registered secrets masked (for markup, where field patterns could misfire)."""
    return _by_value(str(text))


def register_secret(value: object) -> None:
    """Mask ``value`` (and its percent-encoded forms) wherever it appears from now on, in this process.

    Values shorter than :data:`MIN_SECRET_LENGTH` characters are ignored. The first registration also
    redacts every log record of the process (:func:`logging.setLogRecordFactory`), and each secret is
    passed to the callbacks of :func:`on_secret` (the Airflow edge hands them to Airflow's own masker).
    """
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)} - _known
    if not forms:
        return
    with _lock:
        _known.update(f for f in forms if len(f) >= MIN_SECRET_LENGTH)
        ordered = sorted(_known, key=len, reverse=True)  # the longest first: a secret containing another
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))
        sinks = list(_sinks)
        _install_log_redaction()
    for sink in sinks:
        sink(value)


def register_uri_secrets(uri: str) -> None:
    """Register the password (and user name) of ``uri``'s user info and its secret query values."""
    try:
        parts = urlsplit(str(uri))
    except ValueError:
        return
    if parts.password:
        register_secret(parts.password)
        register_secret(unquote_plus(parts.password))
    if parts.username and parts.password is None:
        register_secret(unquote_plus(parts.username))  # a token as the user name
    for query in (parts.query, parts.fragment):
        for item in query.split("&"):
            name, _, value = item.partition("=")
            if value and (unquote_plus(name) in _SECRET_QUERY_NAMES or is_secret_name(unquote_plus(name))):
                register_secret(value)
                register_secret(unquote_plus(value))


def register_mapping_secrets(options: Mapping[str, Any]) -> None:
    """Register every string under a secret-named field of ``options`` (nested mappings included)."""
    for name, value in options.items():
        if isinstance(value, Mapping):
            if is_secret_name(str(name)):
                for leaf in _leaves(value):
                    register_secret(leaf)
            register_mapping_secrets(value)
        elif isinstance(value, str):
            if is_secret_name(str(name)):
                register_secret(value)
            elif "://" in value:
                register_uri_secrets(value)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return []


def on_secret(callback: Callable[[str], None]) -> None:
    """Call ``callback(secret)`` for every secret registered, those already known included."""
    with _lock:
        _sinks.append(callback)
        known = list(_known)
    for secret in known:
        callback(secret)


def _install_log_redaction() -> None:
    """Redact every log record of the process as it is made, before any handler or formatter sees it."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left to logging's own error report
            return record
        record.msg, record.args = redact_text(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if redact_text(text) != text:  # a handler formatting it again would print the credential
                record.exc_text, record.exc_info = redact_text(text), None
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
