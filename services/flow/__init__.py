"""flow: jobs of one party — REST API, DAG validation, scheduling, cross-party coordination."""
