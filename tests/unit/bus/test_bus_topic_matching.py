"""AMQP topic matching as every backend must apply it (memory matches in Python, RabbitMQ in the
broker, Pulsar through a regex): ``*`` is exactly one word, ``#`` zero or more."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silobridge.bus.base import (
    check_group,
    check_message_id,
    check_pattern,
    check_topic,
    pattern_to_regex,
    topic_matches,
)
from silobridge.errors import InvalidInput


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("*.b", "a.b", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c.d", True),
        ("a.#", "ab", False),
        ("#", "anything.at.all", True),
        ("#.end", "end", True),
        ("#.end", "x.y.end", True),
        ("#.end", "x.end.y", False),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
        ("fed.j1.t.1.#", "fed.j1.t.1.grad.0", True),
        ("fed.j1.t.1.#", "fed.j1.t.10.grad.0", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


words = st.sampled_from(["a", "b", "c"])
topics = st.lists(words, min_size=1, max_size=5).map(".".join)
patterns = st.lists(st.one_of(words, st.just("*"), st.just("#")), min_size=1, max_size=5).map(".".join)


def _by_enumeration(pattern: str, topic: str) -> bool:
    """Brute force: expand every '#' into 0..n words and every '*' into one word."""
    p, t = pattern.split("."), topic.split(".")

    def go(i: int, j: int) -> bool:
        if i == len(p):
            return j == len(t)
        if p[i] == "#":
            return any(go(i + 1, k) for k in range(j, len(t) + 1))
        return j < len(t) and p[i] in ("*", t[j]) and go(i + 1, j + 1)

    return go(0, 0)


@given(patterns, topics)
def test_topic_matches_agrees_with_brute_force(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic) is _by_enumeration(pattern, topic)


@pytest.mark.parametrize("topic", ["", "a..b", ".a", "a.", "a b", "a.*", "a/b", "ü", "x" * 256])
def test_bad_topics_are_refused_with_a_clear_message(topic: str) -> None:
    with pytest.raises(InvalidInput, match="topic"):
        check_topic(topic)


@pytest.mark.parametrize("pattern", ["", "a.#x", "a..b", "a.**", "a b"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput, match="pattern"):
        check_pattern(pattern)


def test_names_up_to_255_bytes_are_accepted() -> None:
    assert check_topic("t" * 255) == "t" * 255
    assert check_group("fed-job.task") == "fed-job.task"
    assert check_message_id("m" * 255) == "m" * 255
    with pytest.raises(InvalidInput, match="group"):
        check_group("has space")
    with pytest.raises(InvalidInput, match="message id"):
        check_message_id("m" * 256)


@given(patterns, topics)
def test_pattern_regex_agrees_with_topic_matches(pattern: str, topic: str) -> None:
    """Pulsar selects topics with this regex; it must match exactly what memory/RabbitMQ match."""
    assert (re.fullmatch(pattern_to_regex(pattern), topic) is not None) is topic_matches(pattern, topic)


def test_pattern_regex_escapes_literal_words() -> None:
    assert re.fullmatch(pattern_to_regex("a-b.c_d"), "a-b.c_d")
    assert not re.fullmatch(pattern_to_regex("a.b"), "aXb")
