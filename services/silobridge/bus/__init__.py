"""Publish/subscribe with explicit ack: one interface, backends chosen by URL."""

from silobridge.bus.base import Bus, Handler, Message, Subscription
from silobridge.bus.factory import create_bus

__all__ = ["Bus", "Handler", "Message", "Subscription", "create_bus"]
