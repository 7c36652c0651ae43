"""Clients of a party's flow API shared by the CLI and the SDK: credentials, requests, progress."""
