"""Latency and request budget of kubectl-canary, measured side by side with kubectl (see README.md)."""
