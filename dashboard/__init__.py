"""The operator's web view served by the bot: dashboard page, JSON API, live updates (SSE),
control actions and Prometheus ``/metrics``."""
