"""silobridge shared library: bus, protobuf contracts, crypto, compute, federation API, components."""

__version__ = "0.1.0"
