"""Redaction against a corpus of secrets in the formats they really have, as they show up in the
logs, env dumps, configs and command lines a runner reads: each secret gone, the words around it
(what a diagnosis needs) kept, and ordinary log lines untouched."""

from __future__ import annotations

import json

import pytest

from runner.redaction import REDACTED, bounded_text, may_hold_secret, redact, redact_strings

PEM_BODY = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu"
)

# (text, the secret that must not survive, a neighbouring word that must)
CORPUS: list[tuple[str, str, str]] = [
    # Slack
    (
        "SLACK_BOT_TOKEN=xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "AbCdEfGhIjKlMnOpQrStUvWx",
        "SLACK_BOT_TOKEN",
    ),
    (
        "posting with xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx now",
        "1234567890123-AbCdEf",
        "posting with",
    ),
    (
        "app token xapp-1-A0123BCDE45-1234567890123-0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123",
        "app token",
    ),
    (
        "webhook https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "XXXXXXXXXXXXXXXXXXXXXXXX",
        "webhook",
    ),
    ("user token xoxp-2222222222-3333333333-4444444444-abcdefabcdefabcdefabcdefabcdef12", "abcdefabcdef", "user token"),
    # GitHub, GitLab, Hugging Face, PyPI, npm, OpenAI
    (  # the token's body, not only its prefix (detect-secrets' group is the ghp)
        "cloning with ghp_16C7e42F292c6912E7710c838347Ae178B4a into /src",
        "16C7e42F292c6912E7710c838347Ae178B4a",
        "into /src",
    ),
    (
        "GH=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV ok",
        "github_pat_11ABCDEFG",
        "GH=",
    ),
    ("token: gho_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c838347Ae178B4a", "token"),
    (
        "remote https://oauth2:glpat-xxxxxxxxxxxxxxxxxxxx@gitlab.example.com/g/p.git",
        "glpat-xxxxxxxxxxxxxxxxxxxx",
        "gitlab.example.com",
    ),
    (
        "download failed for hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345 (401)",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "download failed",
    ),
    (
        "TWINE_PASSWORD pypi-AgEIcHlwaS5vcmcCJGI4YmNhMDA5LTg0OTAtNGNjNi1hNGE0LTk4ZmM2MmI4NzEzZAACKlsz"
        "LCJiYjFkMGE3NC04MzA3LTRmMGMtYjg1NC04ZTE1ZTc3MGQ0OWMiXQAABiCwL",
        "pypi-AgEIcHlwaS5vcmcCJGI4",
        "TWINE_PASSWORD",
    ),
    (
        "//registry.npmjs.org/:_authToken=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "registry.npmjs.org",
    ),
    ("OPENAI sk-proj-AbCdEfGhIjKlMnOpQrStT3BlbkFJAbCdEfGhIjKlMnOpQrSt used", "T3BlbkFJ", "OPENAI"),
    # Cloud providers
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    (
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SECRET_ACCESS_KEY",
    ),
    ('aws_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "wJalrXUtnFEMI/K7MDENG", "aws_key"),
    ("found key AKIAI44QH8DHBEXAMPLE in env", "AKIAI44QH8DHBEXAMPLE", "in env"),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "A" * 86 + "==;EndpointSuffix=core.windows.net",
        "A" * 40,
        "AccountName=acct",
    ),
    (
        "maps key AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz0123456 rejected",
        "AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz0123456",
        "rejected",
    ),
    # Payment, mail
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc charge failed", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "charge failed"),
    (
        "SENDGRID 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 ok",
        "TwL2iGABf9DHoTf",
        "SENDGRID",
    ),
    # JWT and HTTP auth
    (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N",
        "Authorization",
    ),
    (
        "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
        "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
        "Authorization",
    ),
    ("authorization: ApiKey c2VjcmV0LWFwaS1rZXk=", "c2VjcmV0LWFwaS1rZXk=", "authorization"),
    ("Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "Proxy-Authorization"),
    ('headers={"Authorization": "Bearer abc.def.ghi123"}', "abc.def.ghi123", "headers"),
    ("curl -u admin:Sup3rS3cret https://grafana:3000/api/datasources", "Sup3rS3cret", "/api/datasources"),
    ("curl --user deploy:pa55w0rd -X POST http://pyroscope:4040/ingest", "pa55w0rd", "/ingest"),
    # Credentials in URLs
    ("PYROSCOPE_URL=https://user:pass@pyroscope.example.com:4040", ":pass@", "pyroscope.example.com"),
    ("redis://:s3cretpw@redis.internal:6379/0 unreachable", "s3cretpw", "redis.internal:6379"),
    ("postgres://app:p@ss/w0rd@db.internal:5432/app connection refused", "ss/w0rd", "connection refused"),
    ("amqp://guest:gu3st@rabbit:5672/ channel closed", "gu3st", "channel closed"),
    ("no answer from https://admin:hunter2@pyroscope:4040/ready", "hunter2", "no answer from"),
    # Env dumps and configs
    ("DATABASE_PASSWORD=abc,def", ",def", "DATABASE_PASSWORD"),
    ("export API_KEY=two words here", "two words here", "export API_KEY"),
    ("  client_secret: very secret value", "very secret value", "client_secret"),
    ('{"password": "hunter2", "user": "bob"}', "hunter2", '"user": "bob"'),
    ("level=info msg=login user=bob password=hunter2 took=3ms", "hunter2", "took=3ms"),
    ("GRAFANA_TOKEN=glsa_AbCdEfGhIjKlMnOpQrStUvWxYz012345_abcdef12", "glsa_AbCdEf", "GRAFANA_TOKEN"),
    ("--auth-token 0123456789abcdef serving", "0123456789abcdef", "serving"),
    ("secret_key_base = 'a1b2c3d4e5f6'", "a1b2c3d4e5f6", "secret_key_base"),
    ("DB_PWD=Tr0ub4dor&3", "Tr0ub4dor&3", "DB_PWD"),
    ("CREDENTIALS=alice:opensesame", "opensesame", "CREDENTIALS"),
    # Private keys
    (
        "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----\nstarted",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw",
        "started",
    ),
    ("loaded\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY, "MzEfYyjiWA4R4", "loaded"),
    (PEM_BODY + "\n-----END PRIVATE KEY-----\nserver up", "MzEfYyjiWA4R4", "server up"),
    (PEM_BODY + "\nQUJD==\n-----END RSA PRIVATE KEY-----\nready", "QUJD==", "ready"),  # a short last line
    (
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"'
        '"\\n-----END PRIVATE KEY-----\\n"}',
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "private_key",
    ),
    # Grafana: service-account tokens (glsa_ + 32 + _ + an 8-hex checksum, as GRAFANA_TOKEN is) and
    # legacy API keys (base64 of {"k":...,"n":...,"id":...}), in the log lines that carry them.
    (
        "grafana provisioning failed with glsa_Yk2mVQb1eQnR0aFqfA8oZl3dT6uXw9Cs_5e1d2c3b: 403",
        "glsa_Yk2mVQb1eQnR0aFqfA8oZl3dT6uXw9Cs_5e1d2c3b",
        "provisioning failed",
    ),
    (
        "using api key eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk9vIiwibiI6InByb2Zib3QiLCJpZCI6MX0="
        " for grafana",
        "T0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk9v",
        "for grafana",
    ),
    # OpenAI project keys (sk-proj-, with - and _ in them)
    (
        "openai.AuthenticationError: Incorrect API key provided: sk-proj-Ab12_cd34-EF56gh78IJ90kl12MN34op56QR78st90",
        "Ab12_cd34-EF56gh78IJ90kl12MN34op56QR78st90",
        "AuthenticationError",
    ),
    # A token as the URL's only user (git remotes, pip indexes)
    (
        "fatal: unable to access 'https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/acme/app.git/': 403",
        "16C7e42F292c6912E7710c838347Ae178B4a",
        "github.com/acme/app.git",
    ),
    (
        "Looking in indexes: https://3f1c0a9e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a@pypi.internal/simple",
        "3f1c0a9e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a",
        "pypi.internal/simple",
    ),
    # An AWS secret access key beside its key id (credentials CSV, `aws configure list` output)
    (
        "AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ",",
    ),
    # Cookies
    ("< Set-Cookie: grafana_session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; Path=/; HttpOnly", "9f8e7d6c5b4a3928", "<"),
    ("> Cookie: grafana_session=0a1b2c3d4e5f60718293a4b5c6d7e8f9", "0a1b2c3d4e5f6071", ">"),
    # Presigned URLs: S3's and Azure's signatures
    (
        "GET https://bucket.s3.amazonaws.com/blocks/01J?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature="
        "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024 403",
        "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "bucket.s3.amazonaws.com",
    ),
    (
        "upload to https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=Zm9vYmFyYmF6cXV4cXV1eA%3D%3D"
        "&se=2026 failed",
        "Zm9vYmFyYmF6cXV4cXV1eA",
        "failed",
    ),
    # npm tokens in npm's own errors, GitLab's newer routable tokens in git's "Access denied"
    (
        "npm ERR! 403 Forbidden - PUT https://registry.npmjs.org/app - token "
        "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 lacks rights",
        "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "lacks rights",
    ),
    (
        "remote: HTTP Basic: Access denied for glpat-AbCdEfGhIjKlMnOpQrStUvWxY.01.0w1x2y3z4 (expired)",
        "AbCdEfGhIjKlMnOpQrStUvWxY.01.0w1x2y3z4",
        "Access denied",
    ),
]


def test_the_corpus_is_broad() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize(("text", "secret", "kept"), CORPUS)
def test_each_sample_passes_the_quick_check(text: str, secret: str, kept: str) -> None:
    # Texts the quick check lets through skip every pattern: a secret there would leak.
    assert may_hold_secret(text)


@pytest.mark.parametrize(("text", "secret", "kept"), CORPUS)
def test_a_secret_in_its_real_format_is_redacted(text: str, secret: str, kept: str) -> None:
    out, count = redact(text)
    assert secret not in out
    assert REDACTED in out
    assert count >= 1
    assert kept in out


@pytest.mark.parametrize(
    "line",
    [
        'level=info msg="ingested" service_name=ai-yolo26 profile_type=process_cpu:cpu:nanoseconds',
        "GET /ready 200 1.2ms remote=10.89.0.4:53412",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed",
        "container 3f4e8a1b2c9d started, image docker.io/grafana/pyroscope:1.7.1",
        "ERROR duplicate primary key constraint violated",
        "py-spy record --rate 100 --pid 1 --nonblocking",
        "monitor: https://pyroscope.example.com:4040/?query=process_cpu",
        "2026-11-26T17:00:01Z ts=1764176401 caller=compactor.go:112 blocks=12",
    ],
)
def test_ordinary_log_lines_stay_as_they_are(line: str) -> None:
    assert redact(line) == (line, 0)


def test_a_log_tail_keeps_no_secret_from_any_sample() -> None:
    log = "\n".join(text for text, _, _ in CORPUS)
    out = "\n".join(bounded_text(log, max_lines=10_000, max_bytes=1 << 20).lines)
    for _, secret, _ in CORPUS:
        assert secret not in out


def test_every_string_in_a_result_is_redacted() -> None:
    result = {
        "url": "https://user:pass@pyroscope:4040",
        "checks": [{"detail": "no answer from https://u:hunter2@pyroscope:4040/ready", "ok": False}],
        "count": 3,
    }
    out = json.dumps(redact_strings(result))
    assert "pass@" not in out
    assert "hunter2" not in out
    assert '"count": 3' in out
