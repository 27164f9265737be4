"""Shared unit-test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.fixture
def golden():
    """Compare rendered text with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites the file, so a
    change to generated output is always a reviewed diff."""

    def check(name: str, rendered: str) -> None:
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(rendered)
        assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1"
        assert rendered == path.read_text(), f"{name} differs: review, then UPDATE_GOLDEN=1"

    return check


@pytest.fixture
def refusal():
    """The one message a model refuses with: refusal(lambda: Model(...)) -> "..." (pydantic's
    "Value error, " prefix dropped)."""
    from pydantic import ValidationError

    def message(make) -> str:
        with pytest.raises(ValidationError) as err:
            make()
        (first,) = err.value.errors()
        return first["msg"].removeprefix("Value error, ")

    return message


def component_instances() -> dict[str, list[dict]]:
    """The components on their own (issue 13), each as a program would deploy it."""
    from phasestack.catalog import CATALOG
    from phasestack.model import (
        ApiArgs,
        MonitoringArgs,
        NginxArgs,
        PgBouncerArgs,
        PostgresArgs,
        RedisArgs,
    )

    server = {"host": "orders-pool-pgbouncer.shop.svc.cluster.local", "port": 6432,
              "password_secret": "orders-db", "max_connections": 300}
    watched = {"sessions": RedisArgs(namespace="shop", mode="cluster", masters=3,
                                     replicas_per_master=1),
               "orders": PostgresArgs(namespace="shop", read_replicas=1, max_connections=300),
               "orders-pool": PgBouncerArgs(namespace="shop", server=server),
               "shop": ApiArgs(namespace="shop", hpa={"enabled": True}, database=server)}
    instances = {**watched, "shop-entry": NginxArgs(namespace="shop"),
                 "obs": MonitoringArgs(namespace="shop", alerts=True, grafana=True,
                                       watch=list(watched.items()))}
    rows = {c.key: c for c in CATALOG}
    return {name: rows[args.component].module.manifests(args.stack(f"{name}-"))
            for name, args in instances.items()}


def statefulset(stack):
    """`stack` on the statefulset engine (the phase2 and phase3 presets run CloudNativePG):
    for the tests of phasestack's own primary and replica StatefulSets."""
    return stack.model_copy(update={"postgres": stack.postgres.model_copy(
        update={"engine": "statefulset"})})
