"""Bound tables: a party's data read where it lives (PostgreSQL, MySQL/MariaDB, Parquet or CSV
files), in Arrow record batches, never copied into the data directory.

``base`` is the interface (``Source``) and the schema rules, ``files`` and ``sql`` the
implementations, ``access`` the allow-list and the secret references, ``lazy`` the table a
component reads (ids stream on their own; features only when a component asks for them).
"""
