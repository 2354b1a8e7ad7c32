"""Manifest checks and per-client overrides of pool settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import Client, ManifestError, ValidationError
from pristine_plugins.pool import PoolPlugin
from pristine_plugins.pool.settings import PoolSpec

URL = "http://api.test"


def test_bad_pool_settings_are_manifest_problems(manifest_factory: Callable[..., Any]) -> None:
    manifest = manifest_factory(
        pools={
            "work": {"byte_budget": 0, "rate_limit": {"rate": 0, "burst": 0}},
            "sample": {
                "backpressure": {
                    "statuses": [],
                    "reduced_concurrency": 0,
                    "byte_multiplier": 0.5,
                    "window_s": -1,
                    "max_attempts": 0,
                }
            },
        }
    )
    with pytest.raises(ManifestError) as info:
        Client(manifest, plugins=[PoolPlugin()], autoload_plugins=False, base_url=URL)
    paths = {path for path, _ in info.value.problems}
    assert {
        "pools.work.byte_budget",
        "pools.work.rate_limit.rate",
        "pools.work.rate_limit.burst",
        "pools.sample.backpressure.statuses",
        "pools.sample.backpressure.reduced_concurrency",
        "pools.sample.backpressure.byte_multiplier",
        "pools.sample.backpressure.window_s",
        "pools.sample.backpressure.max_attempts",
    } <= paths


def test_a_backpressure_endpoint_needs_a_pool_that_can_back_off(manifest_factory: Callable[..., Any]) -> None:
    manifest = manifest_factory()
    manifest["resources"]["jobs"]["run"]["backpressure"] = True  # pool "work" has no backpressure block
    with pytest.raises(ManifestError) as info:
        Client(manifest, plugins=[PoolPlugin()], autoload_plugins=False, base_url=URL)
    assert ("resources.jobs.run.backpressure", "pool 'work' declares no backpressure settings") in info.value.problems


def test_the_manifest_is_not_checked_without_the_plugin(manifest_factory: Callable[..., Any]) -> None:
    manifest = manifest_factory(pools={"work": {"byte_budget": 0}})
    Client(manifest, plugins=[], autoload_plugins=False, base_url=URL).close()


def test_nested_overrides_merge_key_by_key(make_client: Callable[..., Client]) -> None:
    client = make_client(
        base_url=URL,
        config={
            "pools": {
                "sample": {"backpressure": {"window_s": 5, "statuses": [429, 503]}},
                "work": {"rate_limit": {"rate": 3}},
            }
        },
    )
    plugin = client.meta.plugin("pool")
    bp = plugin.spec("sample").backpressure
    assert bp.window_s == 5 and bp.statuses == (429, 503)
    assert bp.reduced_concurrency == 2 and bp.byte_multiplier == 3.0  # kept from the manifest
    assert plugin.spec("sample").concurrency == 8
    assert plugin.spec("work").rate_limit.rate == 3 and plugin.spec("work").rate_limit.burst == 1


def test_overrides_can_switch_off_replace_and_add_pools(make_client: Callable[..., Client]) -> None:
    replacement = PoolSpec(connections=3, concurrency=2)
    client = make_client(
        base_url=URL,
        config={"pools": {"sample": {"backpressure": None}, "work": replacement, "extra": {"concurrency": 5}}},
    )
    plugin = client.meta.plugin("pool")
    assert plugin.spec("sample").backpressure is None
    assert plugin.spec("work") == replacement
    assert plugin.spec("extra").concurrency == 5
    assert plugin.spec("unknown") == PoolSpec()


@pytest.mark.parametrize(
    ("pools", "path"),
    [
        ({"work": {"concurency": 4}}, "config.pools.work.concurency"),
        ({"work": {"concurrency": 0}}, "config.pools.work.concurrency"),
        ({"work": {"concurrency": "4"}}, "config.pools.work.concurrency"),
        ({"sample": {"backpressure": {"window": 1}}}, "config.pools.sample.backpressure.window"),
        ({"budget": {"rate_limit": {"burst": 2}}}, "config.pools.budget.rate_limit.rate"),
        ({"work": 4}, "config.pools.work"),
    ],
)
def test_bad_overrides_are_validation_errors(make_client: Callable[..., Client], pools: Any, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_client(base_url=URL, config={"pools": pools})
    assert path in [p for p, _ in info.value.errors]


def test_the_plugin_loads_from_its_entry_point(manifest_factory: Callable[..., Any]) -> None:
    with Client(manifest_factory(), plugins=["pool"], base_url=URL) as client:
        assert isinstance(client.meta.plugin("pool"), PoolPlugin)
        assert [m.name for m in client.meta.middleware] == ["pool"]
        assert client.meta.middleware[0].priority == 500
