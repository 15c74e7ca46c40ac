"""Rollouts whose routes live in Git: manifest files, the seed chart's Helm values, and the GitOps
controllers (Argo CD, Flux) that own routes on a cluster."""
