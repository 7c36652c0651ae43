"""The ``silobridge`` command line: pki, job, data, party (single-process), demo, cluster."""
