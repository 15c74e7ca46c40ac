"""kubectl-canary: two-phase canary rollouts on Gloo Edge or the Kubernetes Gateway API, as a kubectl plugin."""

__version__ = "0.1.0"
