"""The API server: the connection (kubeconfig, transports, credentials), typed reads and writes, watches,
and the RBAC each command needs. The only code that sends requests."""
