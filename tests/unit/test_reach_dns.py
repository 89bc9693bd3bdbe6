"""container.reach's DNS question to podman's resolver, and how its answer is read."""

from __future__ import annotations

import struct

import pytest

from runner.operations.reach import dns_addresses, dns_query


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
