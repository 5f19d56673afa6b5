"""One redaction for every value that can carry a credential: URIs, text, nested fields, known secrets."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from alignment_drift.core.redaction import (
    MASK,
    is_secret_name,
    redact,
    redact_text,
    redact_uri,
    register_mapping_secrets,
    register_secret,
    register_uri_secrets,
    without_credentials,
)

URIS = [
    pytest.param("http://user:pw123@mlflow:5000/", "http://***@mlflow:5000/", id="http-port"),
    pytest.param("https://user:pw123@mlflow.example.com/x", "https://***@mlflow.example.com/x", id="https-no-port"),
    pytest.param("postgresql+psycopg2://etl:s3cret@db:5432/logs", "postgresql+psycopg2://***@db:5432/logs", id="sql"),
    pytest.param("mysql://u:p%40ss%2Fw0rd@db/x", "mysql://***@db/x", id="percent-encoded"),
    pytest.param("http://user:p@ss@host/", "http://***@host/", id="at-in-password"),
    pytest.param("https://ghp_tokentokentoken@github.com/o/r", "https://***@github.com/o/r", id="token-as-user"),
    pytest.param("http://:onlypassword@host:80", "http://***@host:80", id="empty-user"),
    pytest.param("http://[::1]:5000/", "http://[::1]:5000/", id="ipv6-no-credentials"),
    pytest.param("http://u:pw@[::1]:5000/", "http://***@[::1]:5000/", id="ipv6"),
    pytest.param("http://u:pw@[::1:5000/", "http://***@[::1:5000/", id="unparsable"),
    pytest.param("sqlite:////srv/mlflow.db", "sqlite:////srv/mlflow.db", id="sqlite-unchanged"),
    pytest.param("file:///data/x.parquet", "file:///data/x.parquet", id="file-unchanged"),
    pytest.param(
        "https://a.blob.core.windows.net/c/d.parquet?sv=2024-01-01&se=2026&sig=AbC%2Bd%3D",
        "https://a.blob.core.windows.net/c/d.parquet?sv=2024-01-01&se=2026&sig=***",
        id="azure-sas",
    ),
    pytest.param(
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=tt"
        "&X-Amz-Signature=abcdef&X-Amz-Expires=60",
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***&X-Amz-Security-Token=***"
        "&X-Amz-Signature=***&X-Amz-Expires=60",
        id="s3-presigned",
    ),
    pytest.param(
        "https://storage.googleapis.com/b/o?X-Goog-Signature=ff&X-Goog-Date=2026",
        "https://storage.googleapis.com/b/o?X-Goog-Signature=***&X-Goog-Date=2026",
        id="gcs-signed",
    ),
    pytest.param("https://hooks.example/x?token=t0k&ch=ops", "https://hooks.example/x?token=***&ch=ops", id="token"),
    pytest.param("https://fn.example.net/api/f?code=abc123", "https://fn.example.net/api/f?code=***", id="fn-code"),
    pytest.param("https://x/cb#access_token=abc&state=1", "https://x/cb#access_token=***&state=1", id="fragment"),
    pytest.param("postgresql://db/x?password=pw&sslmode=off", "postgresql://db/x?password=***&sslmode=off", id="pw"),
    pytest.param("https://x/y?api_key=1&apiKey=2&page=3", "https://x/y?api_key=***&apiKey=***&page=3", id="api-keys"),
]


@pytest.mark.parametrize(("uri", "expected"), URIS)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected
    assert redact_uri(expected) == expected  # idempotent: a redacted value stays as it is
    assert redact_text(f"error reaching {uri}: refused") == f"error reaching {expected}: refused"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("host=db user=etl password=hunter22 dbname=x", "host=db user=etl password=*** dbname=x", id="dsn"),
        pytest.param("PWD=abc;Server=db;UID=sa", "PWD=***;Server=db;UID=sa", id="odbc"),
        pytest.param(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy==;EndpointSuffix=core",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core",
            id="azure-connection-string",
        ),
        pytest.param('{"password": "pw", "host": "db"}', '{"password": "***", "host": "db"}', id="json"),
        pytest.param("{'secret': 'abc', 'anon': False}", "{'secret': '***', 'anon': False}", id="repr"),
        pytest.param("Authorization: Bearer eyJhbGciOi.xyz", "Authorization: Bearer ***", id="bearer"),
        pytest.param("rows=10 drift_share=0.3 key_path=/etc/x", "rows=10 drift_share=0.3 key_path=/etc/x", id="plain"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_nested_values_and_connection_extras() -> None:
    extras = json.dumps({"aws_secret_access_key": "sk", "region_name": "eu", "storage_options": {"token": "t"}})
    value = {
        "uri": "s3://bucket/x.parquet",
        "storage_options": {"key": "AKIA", "secret": "sk", "token": {"client_secret": "c"}, "anon": False},
        "connection": {"login": "etl", "password": "pw", "extra": extras, "port": 5432},
        "urls": ["http://u:pw@h/", ("ftp://u:pw@h/", 3)],
        "max_tokens": 512,
        "sort_key": "id",
        "code": "batch_empty",
        "password": None,
    }
    out = redact(value)
    assert out["storage_options"] == {"key": MASK, "secret": MASK, "token": MASK, "anon": False}
    assert out["connection"]["password"] == MASK and out["connection"]["login"] == "etl"
    assert json.loads(out["connection"]["extra"]) == {
        "aws_secret_access_key": MASK,
        "region_name": "eu",
        "storage_options": {"token": MASK},
    }
    assert out["urls"] == ["http://***@h/", ("ftp://***@h/", 3)]
    assert (out["max_tokens"], out["sort_key"], out["code"], out["password"]) == (512, "id", "batch_empty", None)
    assert value["connection"]["password"] == "pw"  # the input is not modified


@pytest.mark.parametrize(
    "name",
    ["password", "db_password", "aws_secret_access_key", "aws_session_token", "X-Amz-Signature", "AccountKey",
     "account_key", "sas_token", "client_secret", "keyfile_dict", "connection_string", "api-key", "sig", "key",
     "private_key", "Authorization", "passwd", "webhook_token"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["endpoint_url", "region_name", "max_tokens", "monkey", "sort_key", "key_path", "verdict_code", "passed",
     "author", "anon", "project", "account_name", "bypass", "keys", "tokenizer"],
)  # fmt: skip
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_registered_secrets_are_masked_anywhere_and_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    plain, encoded = f"Sh@rp/{secret}", "Sh%40rp%2F" + secret
    register_uri_secrets(f"http://user:{encoded}@mlflow:5000/")
    assert redact_text(f"failed: {plain} and {encoded}") == f"failed: {MASK} and {MASK}"
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("connecting with %s", plain)
        try:
            raise RuntimeError(f"refused for {plain}")
        except RuntimeError:
            logging.getLogger("some.library").exception("boom")
    assert secret not in caplog.text and MASK in caplog.text
    assert all(secret not in (r.exc_text or "") for r in caplog.records)


def test_registered_mapping_secrets_and_short_values() -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    register_mapping_secrets({"storage_options": {"secret": secret}, "token": {"refresh": secret + "r"}})
    assert redact_text(f"{secret} {secret}r") == f"{MASK} {MASK}"
    register_secret("abc")  # too short to mask by value: ordinary text is left alone
    assert redact_text("abc abcdef") == "abc abcdef"


def test_without_credentials_is_a_usable_link() -> None:
    assert without_credentials("https://u:pw@mlflow:5000/#/x") == "https://mlflow:5000/#/x"
    assert without_credentials("https://h/p?sig=s&x=1&token=t") == "https://h/p?x=1"
    assert without_credentials("sqlite:////srv/m.db") == "sqlite:////srv/m.db"
