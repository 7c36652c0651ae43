"""A tiny in-process stand-in for pulsar-client's blocking API (Client/Producer/Consumer), so the
Pulsar bus's thread/asyncio bridging runs in unit tests. It models only what the bus uses:
Shared subscriptions selected by topic or regex, ack, negative ack (redelivery count + 1),
close (unacked back, count + 1), unsubscribe. It is not Pulsar; the broker contract runs in
tests/contract/test_bus_pulsar.py when a broker is configured."""

from __future__ import annotations

import re
import threading
from collections import deque
from typing import Any

import pulsar


class FakeMessage:
    def __init__(self, topic: str, data: bytes, properties: dict[str, str], redeliveries: int = 0) -> None:
        self._topic, self._data, self._props, self._redeliveries = topic, data, properties, redeliveries

    def topic_name(self) -> str:
        return self._topic

    def data(self) -> bytes:
        return self._data

    def properties(self) -> dict[str, str]:
        return dict(self._props)

    def redelivery_count(self) -> int:
        return self._redeliveries

    def again(self) -> FakeMessage:
        return FakeMessage(self._topic, self._data, self._props, self._redeliveries + 1)


class _Subscription:
    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        self.pending: deque[FakeMessage] = deque()


class FakeBroker:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.subs: dict[str, _Subscription] = {}

    def publish(self, topic: str, msg: FakeMessage) -> None:
        with self.cond:
            for sub in self.subs.values():
                if sub.regex.fullmatch(topic):
                    sub.pending.append(msg)
            self.cond.notify_all()


class FakeProducer:
    def __init__(self, broker: FakeBroker, topic: str) -> None:
        self._broker, self._topic = broker, topic

    def send_async(self, content: bytes, callback: Any, properties: dict[str, str]) -> None:
        self._broker.publish(self._topic, FakeMessage(self._topic, content, properties))
        threading.Thread(target=callback, args=(pulsar.Result.Ok, None)).start()  # like an IO thread

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeConsumer:
    def __init__(self, broker: FakeBroker, name: str) -> None:
        self._broker, self._name = broker, name
        self._unacked: list[FakeMessage] = []

    def receive(self, timeout_millis: int) -> FakeMessage:
        with self._broker.cond:
            sub = self._broker.subs.get(self._name)
            if sub is None or not self._broker.cond.wait_for(
                lambda: bool(sub.pending), timeout_millis / 1000
            ):
                raise pulsar.Timeout("no message")
            msg = sub.pending.popleft()
            self._unacked.append(msg)
            return msg

    def acknowledge(self, msg: FakeMessage) -> None:
        with self._broker.cond:
            self._unacked.remove(msg)

    def negative_acknowledge(self, msg: FakeMessage) -> None:
        with self._broker.cond:
            self._unacked.remove(msg)
            sub = self._broker.subs.get(self._name)
            if sub is not None:
                sub.pending.append(msg.again())
                self._broker.cond.notify_all()

    def close(self) -> None:
        with self._broker.cond:
            sub = self._broker.subs.get(self._name)
            if sub is not None:
                sub.pending.extendleft(reversed([m.again() for m in self._unacked]))
                self._broker.cond.notify_all()
            self._unacked.clear()

    def unsubscribe(self) -> None:
        with self._broker.cond:
            self._broker.subs.pop(self._name, None)


class FakeClient:
    def __init__(self, broker: FakeBroker) -> None:
        self._broker = broker

    def create_producer(self, topic: str, **_: Any) -> FakeProducer:
        return FakeProducer(self._broker, topic)

    def subscribe(self, topic: str | re.Pattern[str], subscription_name: str, **_: Any) -> FakeConsumer:
        regex = topic if isinstance(topic, re.Pattern) else re.compile(re.escape(topic))
        with self._broker.cond:
            self._broker.subs.setdefault(subscription_name, _Subscription(regex))
        return FakeConsumer(self._broker, subscription_name)

    def close(self) -> None:
        pass
