"""The suite's own instruments read what happened in the order it happened."""

from __future__ import annotations

from tests.fixtures import delivery_order


def test_mails_are_read_back_in_the_order_the_server_received_them() -> None:
    # Python's Maildir keys pad nothing: as text, the second mail of this second sorted first.
    first = "1764658800.M99999P4242Q7.ci-host"
    second = "1764658800.M100000P4242Q8.ci-host"
    same_microsecond = "1764658800.M100000P4242Q10.ci-host"
    next_second = "1764658801.M5P4242Q11.ci-host"
    keys = [next_second, same_microsecond, second, first]
    assert sorted(keys) != [first, second, same_microsecond, next_second]
    assert sorted(keys, key=delivery_order) == [first, second, same_microsecond, next_second]
