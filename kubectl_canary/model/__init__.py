"""The rollout and what is built from it, as data and pure functions: no I/O (tested with exact YAML)."""
