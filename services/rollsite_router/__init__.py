"""rollsite-router: the party's only door to other parties (gRPC + mutual TLS, chunking, ACL)."""
