"""The HTTPRoute rules of every phase on the Gateway API router (app echo, prefix /echo), as the API
server stores them: with its defaults (weight, header type, path type, backendRef group and kind)."""

from __future__ import annotations

import yaml

STABLE = yaml.safe_load("""
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  backendRefs: [{group: "", kind: Service, name: echo-v1, port: 80, weight: 1}]
""")
HEADER = yaml.safe_load("""
- name: echo-canary-header
  matches: [{path: {type: PathPrefix, value: /echo}, headers: [{name: stage, type: Exact, value: canary}]}]
  backendRefs: [{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}]
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  backendRefs: [{group: "", kind: Service, name: echo-v1, port: 80, weight: 1}]
""")
WEIGHTED_10 = yaml.safe_load("""
- name: echo-canary-header
  matches: [{path: {type: PathPrefix, value: /echo}, headers: [{name: stage, type: Exact, value: canary}]}]
  backendRefs: [{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}]
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  backendRefs:
  - {group: "", kind: Service, name: echo-v1, port: 80, weight: 90}
  - {group: "", kind: Service, name: echo-v2, port: 80, weight: 10}
""")
FINISHED = yaml.safe_load("""
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  backendRefs: [{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}]
""")
