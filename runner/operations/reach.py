"""container.reach: whether a container reaches an HTTP service by the name it uses for it (the
runbook's `podman exec backend curl -s http://pyroscope:4040/ready`), without an exec where podman's
network settings show the way.

An exec starts a process in the container (conmon, runc, then the client itself): 200 to 450 ms on
these machines, most of a diagnosis. The same question is answered the way the container's own
request would go, from this host: the name is asked of podman's resolver on the container's network
(aardvark-dns at the network's gateway, the first nameserver of the container's resolv.conf), and
the address it answers is asked the GET (this host reaches the network's bridge as the containers
on it do). A name the resolver does not know, whose container podman's records show stopped, has no
address at all. What this cannot stand for (a remote podman, another network mode, no resolver
there or one that does not answer, a name it does not know otherwise, an address this host gets no
answer from) is asked from inside the container, as before.

The shortcut is taken only where podman's resolver is known to be what the container asks, and is
this host's own: the container sets no Dns, DnsSearch, DnsOptions or ExtraHosts of its own (its
lookup would not be the resolver's alone), its resolv.conf names the gateway as its nameserver
(podman writes it there only for a DNS-enabled network), podman is rootful (a rootless podman's
bridges live in another network namespace: the gateway is not on this host), the gateway is one of
this host's addresses (the query is sent from it, so it cannot leave by the default route), and
every address answered lies in the container's subnet on that network (nothing else answering there
can send the runner's GET elsewhere).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog

from profbot.errors import TargetNotFound
from profbot.ops.containers import ContainerReach, HttpProbe
from runner.host_policy import HostContext
from runner.operations.inside_containers import http_get_inside
from runner.operations.table import op
from runner.redaction import redact

GET_TIMEOUT = 5.0  # what the in-container probe allows its request (runner/probes.py)
DNS_TIMEOUT = 1.0
MAX_BODY = 500
MAX_RESPONSE = 64 * 1024
log = structlog.get_logger("profbot.runner")

OWN_NETWORK_MODES = ("host", "none", "container:", "ns:", "slirp4netns", "pasta", "private")
OWN_RESOLUTION = ("Dns", "DnsSearch", "DnsOptions", "ExtraHosts")  # HostConfig: --dns*, --add-host
CHECKED = (
    "no Dns/DnsSearch/DnsOptions/ExtraHosts of its own, its resolv.conf's nameserver, rootful podman, "
    "the gateway a local address, the answer inside {subnet}"
)


@dataclass(frozen=True)
class Route:
    """Where a name leads from a container: the address podman's resolver on ``network`` gives it
    (``resolver``), or "" with the stopped container (``target``, ``status``) that would carry it."""

    network: str
    address: str
    resolver: str = ""
    target: str = ""
    status: str = ""
    subnet: str = ""


def _networks(attrs: dict[str, Any]) -> dict[str, Any]:
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return networks if isinstance(networks, dict) else {}


def dns_query(name: str, ident: int) -> bytes:
    """A DNS query for the A records of ``name`` (recursion desired)."""
    labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


def dns_addresses(answer: bytes, ident: int) -> list[str]:
    """The IPv4 addresses a DNS answer gives (none: the name is unknown). ValueError if it is not
    an answer to our query."""
    if len(answer) < 12:
        raise ValueError("short DNS answer")
    got, flags, questions, answers = struct.unpack(">HHHH", answer[:8])
    if got != ident or not flags & 0x8000:
        raise ValueError("not the answer to this query")
    at = 12
    for _ in range(questions):
        while answer[at] != 0 and answer[at] < 0xC0:
            at += answer[at] + 1
        at += (2 if answer[at] >= 0xC0 else 1) + 4
    found = []
    for _ in range(answers):
        while answer[at] != 0 and answer[at] < 0xC0:
            at += answer[at] + 1
        at += 2 if answer[at] >= 0xC0 else 1
        kind, _klass, _ttl, length = struct.unpack(">HHIH", answer[at : at + 10])
        at += 10
        if kind == 1 and length == 4:
            found.append(socket.inet_ntoa(answer[at : at + 4]))
        at += length
    return found


async def resolve(resolver: str, name: str) -> list[str]:
    """``name``'s IPv4 addresses as the DNS server at ``resolver`` gives them, asked again after
    0.1 and 0.3 s of silence (a resolver reloading its records), within DNS_TIMEOUT. Raises
    OSError (nothing listens there), TimeoutError or ValueError when it gives no answer."""
    loop = asyncio.get_running_loop()
    ident = (id(name) ^ int(loop.time() * 1e6)) & 0xFFFF
    query = dns_query(name, ident)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        # Sent from the gateway's own address: where it is not this host's (a rootless podman's
        # bridge in its own namespace), bind fails (EADDRNOTAVAIL) and nothing leaves this host.
        sock.bind((resolver, 0))
        sock.connect((resolver, 53))  # answers from elsewhere are not taken; a closed port raises
        async with asyncio.timeout(DNS_TIMEOUT):
            for wait in (0.1, 0.2, DNS_TIMEOUT):
                await loop.sock_sendall(sock, query)
                try:
                    async with asyncio.timeout(wait):
                        return dns_addresses(await loop.sock_recv(sock, 4096), ident)
                except TimeoutError:
                    continue
    raise TimeoutError(f"no answer from {resolver}")


def why_asked_inside(host: HostContext, source: dict[str, Any]) -> str | None:
    """Why podman's resolver cannot stand for the container's own lookup, or None."""
    if not host.podman.local:
        return "a remote podman: its networks are not this host's to reach"
    config = source.get("HostConfig") or {}
    mode = str(config.get("NetworkMode") or "")
    if mode.startswith(OWN_NETWORK_MODES) or not _networks(source):
        return f"network mode {mode or 'unknown'}: no podman network to ask"
    own = [key for key in OWN_RESOLUTION if config.get(key)]
    if own:
        return f"it sets {', '.join(own)}: its lookup is not podman's resolver's alone"
    if rootless(host.podman.base_url):
        return "rootless podman: its networks' gateways are not on this host"
    return None


def rootless(base_url: str) -> bool:
    """Whether podman's socket is a rootless one (not owned by root; unknown counts as rootless)."""
    path = urlsplit(base_url).path
    try:
        return os.stat(path).st_uid != 0
    except OSError:
        return True


def nameservers(source: dict[str, Any]) -> list[str]:
    """The nameservers of the container's resolv.conf, in order (none where it cannot be read)."""
    try:
        with open(str(source.get("ResolvConfPath") or ""), encoding="utf-8") as conf:
            lines = conf.read(64 * 1024).splitlines()
    except (OSError, ValueError):
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def subnet_of(entry: dict[str, Any]) -> ipaddress.IPv4Network | None:
    """The container's IPv4 subnet on one network, from its address and prefix length there."""
    try:
        network = ipaddress.ip_interface(f"{entry.get('IPAddress')}/{int(entry.get('IPPrefixLen') or 0)}").network
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) and network.prefixlen > 0 else None


def trusted(addresses: list[str], subnet: ipaddress.IPv4Network) -> bool:
    """Whether every address answered lies in the container's subnet on that network."""
    try:
        return all(ipaddress.ip_address(address) in subnet for address in addresses)
    except ValueError:
        return False


async def route(host: HostContext, source: dict[str, Any], name: str) -> Route | str:
    """Where ``name`` leads from the container inspected as ``source``; where this host cannot
    tell, why (the caller then asks from inside the container)."""
    why = why_asked_inside(host, source)
    if why is not None:
        return why
    try:
        ipaddress.ip_address(name)
        return "an address, not a name: the container's own routing decides"
    except ValueError:
        pass
    networks = _networks(source)
    gateways = [str((entry or {}).get("Gateway") or "") for entry in networks.values()]
    servers = nameservers(source)
    # podman's resolver for a DNS-enabled network listens on its gateway, and podman writes that
    # address into the container's resolv.conf: the first nameserver must be one of them.
    if not servers or servers[0] not in gateways:
        return f"its resolv.conf's nameservers {servers[:3]} are not podman's resolvers {gateways}"
    answered = []
    for (net, entry), resolver in zip(networks.items(), gateways, strict=True):
        subnet = subnet_of(entry or {})
        if resolver not in servers or subnet is None:
            return f"network {net} has no podman resolver in its resolv.conf, or no IPv4 subnet"
        try:
            addresses = await resolve(resolver, name)
        except (OSError, TimeoutError, ValueError, IndexError, struct.error) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.info("reach_resolver_silent", network=net, resolver=resolver, error=error)
            return f"podman's resolver {resolver} on {net} gave no answer from this host ({error[:80]})"
        if not trusted(addresses, subnet):
            log.warning("reach_answer_outside_subnet", network=net, resolver=resolver, answer=addresses[:4],
                        subnet=str(subnet))  # fmt: skip
            return f"the answer for {name} from {resolver} ({', '.join(addresses[:4])}) is outside {subnet}"
        if addresses:
            return Route(net, addresses[0], resolver=resolver, subnet=str(subnet))
        answered.append(net)
    return await stopped_carrier(host, name, answered) or f"podman's resolver does not know {name}"


async def stopped_carrier(host: HostContext, name: str, networks: list[str]) -> Route | None:
    """The resolver does not know ``name``: a Route without address when the container of that
    name, on one of ``networks``, is stopped (what an outage looks like); else None."""
    try:
        attrs: dict[str, Any] = (await host.podman.container(name)).attrs
    except TargetNotFound:
        return None
    state = attrs.get("State") or {}
    on = [net for net in networks if net in _networks(attrs)]
    if state.get("Running") or not on:
        return None
    target = str(attrs.get("Name", "")).lstrip("/")
    return Route(on[0], "", target=target, status=str(state.get("Status") or "not running"))


async def http_get(address: str, port: int, path: str, host_header: str) -> tuple[int, str]:
    """A plain HTTP/1.0 GET (the status and up to MAX_BODY characters of the body). Raises
    OSError (ConnectionRefusedError: nothing listens) or TimeoutError."""
    async with asyncio.timeout(GET_TIMEOUT):
        reader, writer = await asyncio.open_connection(address, port)
        try:
            request = f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: profbot-runner\r\n\r\n"
            writer.write(request.encode("ascii"))
            await writer.drain()
            raw = await reader.read(MAX_RESPONSE)
            while len(raw) < MAX_RESPONSE:
                more = await reader.read(MAX_RESPONSE - len(raw))
                if not more:
                    break
                raw += more
        finally:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"not an HTTP answer: {head[:80]!r}")
    return int(status_line[1]), body.decode(errors="replace").strip()[:MAX_BODY]


@op(ContainerReach)
async def container_reach(host: HostContext, o: ContainerReach) -> HttpProbe:
    source = await host.require_readable(o.container)
    url = urlsplit(o.url)
    name, port = url.hostname or "", url.port or 80
    found: Route | str = "the container is not running"  # it reaches nothing: the exec says so
    if (source.get("State") or {}).get("Running"):
        found = await route(host, source, name)
    if isinstance(found, str):
        log.info("reach_asked_inside", container=o.container, url=o.url, reason=found)
        return await asked_inside(host, o, source, found)
    if not found.address:
        return HttpProbe(
            container=o.container, url=o.url, status_code=None, body="", client="podman's network records",
            error=f"{name} has no address on {found.network}: container {found.target} is {found.status} "
            f"(podman's resolver there does not know the name; no exec)",
        )  # fmt: skip
    via = (
        f"the host, GET {found.address}:{port} ({name} resolved by podman's resolver {found.resolver} on "
        f"{o.container}'s network {found.network}; checked: {CHECKED.format(subnet=found.subnet)}; no exec)"
    )
    try:
        status, body = await http_get(found.address, port, url.path or "/", url.netloc)
    except ConnectionRefusedError:
        return HttpProbe(
            container=o.container, url=o.url, status_code=None, body="", client=via,
            error=f"connection refused: nothing listens on {found.address}:{port}, the address {name} resolves to",
        )  # fmt: skip
    except (OSError, TimeoutError):
        # No answer at all (no route, filtered, hung): what this host sees may not be what the
        # container sees. Ask from inside it.
        log.info("reach_no_answer_from_host", address=found.address, port=port)
        return await asked_inside(host, o, source, f"this host got no answer from {found.address}:{port}")
    return HttpProbe(container=o.container, url=o.url, status_code=status, body=redact(body)[0][:MAX_BODY], client=via)


async def asked_inside(host: HostContext, o: ContainerReach, source: dict[str, Any], why: str) -> HttpProbe:
    """The exec probe (container.http_get's, on the container already checked and inspected as
    ``source``), saying why it was asked from inside (``note``)."""
    probe = await http_get_inside(host, o.container, o.url, source)
    return probe.model_copy(update={"note": f"asked inside: {why}"})
