"""The runner's HTTP clients check certificates as their address needs: httpx's default (certifi's
authorities) for https, and for http, where no TLS is ever spoken, a context that trusts no one."""

from __future__ import annotations

import ssl

from runner.grafana import GrafanaClient
from runner.pyroscope import PyroscopeClient, tls_for


def test_an_https_address_gets_httpxs_default_verification() -> None:
    assert tls_for("https://pyroscope.example.com:4040") is True


def test_an_http_address_gets_a_context_that_verifies_against_no_authority() -> None:
    context = tls_for("http://pyroscope:4040")

    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def authorities(client: PyroscopeClient | GrafanaClient) -> int:
    """The CA certificates the client's connection pool verifies servers against (httpx's internals)."""
    context: ssl.SSLContext = client._http._transport._pool._ssl_context  # type: ignore[attr-defined]
    return int(context.cert_store_stats()["x509_ca"])


async def test_the_clients_are_made_with_it() -> None:
    async with PyroscopeClient("http://pyroscope:4040", timeout=5) as pyroscope:
        assert authorities(pyroscope) == 0
    async with GrafanaClient("https://grafana.example.com", "t0ken", timeout=5) as grafana:
        assert authorities(grafana) > 0
