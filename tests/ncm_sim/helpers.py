"""Small HTTP helpers for the simulator tests."""
from __future__ import annotations

import requests


def session(sim) -> requests.Session:
    s = requests.Session()
    s.headers.update(sim.keys)
    return s


def get(sim, path: str, s: requests.Session | None = None, **params) -> requests.Response:
    return (s or session(sim)).get(f"{sim.base_url}/{path}", params=params or None, allow_redirects=False)


def send(sim, method: str, path: str, body=None, s: requests.Session | None = None, **params) -> requests.Response:
    return (s or session(sim)).request(method, f"{sim.base_url}/{path}", json=body, params=params or None,
                                       allow_redirects=False)


def page_all(sim, path: str, **params) -> tuple[list, int]:
    """Follow meta.next to the end; returns (rows, requests made)."""
    s = session(sim)
    url = f"{sim.base_url}/{path}"
    rows, calls, first = [], 0, True
    while url:
        r = s.get(url, params=params if first else None)
        first = False
        calls += 1
        assert r.status_code == 200, r.text
        body = r.json()
        rows.extend(body["data"])
        url = body["meta"]["next"]
    return rows, calls
