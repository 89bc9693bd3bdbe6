"""container.reach's DNS question to podman's resolver, how its answer is read, and when the
resolver is trusted to stand for the container's own lookup (a stand-in resolver on a loopback
address of this host plays podman's at the gateway)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runner.host_policy import HostContext
from runner.operations.reach import Route, dns_addresses, dns_query, route
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient


def answer(query: bytes, *records: tuple[int, bytes]) -> bytes:
    """An answer to ``query``: its header with the response bit and the count, its question, then
    each record named by a pointer to the question (offset 12), as resolvers write them."""
    ident = struct.unpack(">H", query[:2])[0]
    header = struct.pack(">HHHHHH", ident, 0x8180, 1, len(records), 0, 0)
    body = b"".join(struct.pack(">HHHIH", 0xC00C, kind, 1, 60, len(data)) + data for kind, data in records)
    return header + query[12:] + body


def test_the_a_records_are_the_addresses() -> None:
    query = dns_query("pyroscope", 0x1234)
    got = answer(query, (5, b"\x03foo\x00"), (1, bytes([10, 89, 6, 2])), (1, bytes([10, 89, 6, 3])))
    assert dns_addresses(got, 0x1234) == ["10.89.6.2", "10.89.6.3"]


def test_an_unknown_name_has_no_address() -> None:
    query = dns_query("pyroscope", 7)
    assert dns_addresses(answer(query), 7) == []


def test_an_answer_to_another_query_is_not_taken() -> None:
    query = dns_query("pyroscope", 7)
    with pytest.raises(ValueError, match="not the answer to this query"):
        dns_addresses(answer(query, (1, bytes([10, 0, 0, 1]))), 8)
    with pytest.raises(ValueError, match="not the answer to this query"):
        dns_addresses(query, 7)  # a question, not an answer


# ---------------------------------------------------------------- when podman's resolver is trusted

SUBNET = "10.89.7.0/24"


class Resolver(asyncio.DatagramProtocol):
    """A DNS server on a loopback address of this host, standing in for aardvark-dns at a gateway:
    it answers every query with ``addresses`` and counts the queries."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.queries = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.queries += 1
        assert self.transport is not None
        self.transport.sendto(answer(data, *((1, socket.inet_aton(a)) for a in self.addresses)), addr)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, Resolver]]:
    """A resolver on a random loopback address (its own, beside other runs of this test)."""
    a, b, c = secrets.randbelow(254) + 1, secrets.randbelow(254) + 1, secrets.randbelow(253) + 2
    address = f"127.{a}.{b}.{c}"
    resolver = Resolver(["10.89.7.9"])
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: resolver, local_addr=(address, 53))
    yield address, resolver
    transport.close()


def host() -> HostContext:
    # A local podman whose socket root owns (/dev/null stands for it: nothing here calls podman).
    return HostContext(podman=PodmanGateway("unix:///dev/null", 1.0), pyroscope=PyroscopeClient("http://x:4040", 1.0))


def backend(tmp_path: Path, gateway: str, nameserver: str | None = None, **config: Any) -> dict[str, Any]:
    """backend's inspect document: on one network, its resolv.conf naming ``nameserver``."""
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"search dns.podman\nnameserver {nameserver or gateway}\n")
    return {
        "State": {"Running": True},
        "HostConfig": {"NetworkMode": "bridge", "Dns": [], "DnsSearch": [], "DnsOptions": [], "ExtraHosts": [],
                       **config},
        "NetworkSettings": {"Networks": {"stack_default": {"Gateway": gateway, "IPAddress": "10.89.7.5",
                                                          "IPPrefixLen": 24}}},
        "ResolvConfPath": str(conf),
    }  # fmt: skip


async def test_an_answer_inside_the_subnet_is_the_route(tmp_path: Path, gateway: tuple[str, Resolver]) -> None:
    address, _ = gateway
    found = await route(host(), backend(tmp_path, address), "pyroscope")
    assert found == Route("stack_default", "10.89.7.9", resolver=address, subnet=SUBNET)


async def test_an_answer_outside_the_subnet_is_not_trusted(tmp_path: Path, gateway: tuple[str, Resolver]) -> None:
    address, resolver = gateway
    resolver.addresses = ["192.168.1.50"]  # whatever answered there, it is not podman's record of the network
    found = await route(host(), backend(tmp_path, address), "pyroscope")
    assert found == f"the answer for pyroscope from {address} (192.168.1.50) is outside {SUBNET}"
    resolver.addresses = ["10.89.7.9", "8.8.8.8"]  # one stray address is enough
    assert isinstance(await route(host(), backend(tmp_path, address), "pyroscope"), str)


@pytest.mark.parametrize(
    "config",
    [{"ExtraHosts": ["pyroscope:127.0.0.1"]}, {"Dns": ["10.0.0.53"]}, {"DnsSearch": ["corp"]},
     {"DnsOptions": ["ndots:5"]}],
)  # fmt: skip
async def test_a_container_resolving_its_own_way_is_asked_inside(
    tmp_path: Path, gateway: tuple[str, Resolver], config: dict[str, Any]
) -> None:
    address, resolver = gateway
    found = await route(host(), backend(tmp_path, address, **config), "pyroscope")
    assert found == f"it sets {next(iter(config))}: its lookup is not podman's resolver's alone"
    assert resolver.queries == 0


async def test_a_resolv_conf_not_naming_the_gateway_is_asked_inside(
    tmp_path: Path, gateway: tuple[str, Resolver]
) -> None:
    """podman writes the gateway there only for a DNS-enabled network."""
    address, resolver = gateway
    found = await route(host(), backend(tmp_path, address, nameserver="1.1.1.1"), "pyroscope")
    assert isinstance(found, str) and "are not podman's resolvers" in found
    assert resolver.queries == 0


async def test_a_gateway_not_on_this_host_is_not_asked(tmp_path: Path) -> None:
    """A rootless podman's bridge is in another namespace: its gateway is no address of this host,
    and the query is not sent out by the default route."""
    found = await route(host(), backend(tmp_path, "192.0.2.1"), "pyroscope")
    assert isinstance(found, str) and "gave no answer from this host (OSError" in found
    assert "Cannot assign requested address" in found
