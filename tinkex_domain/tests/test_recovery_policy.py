"""Recovery policy normalisation."""

from __future__ import annotations

import pytest

from tinkex_domain.recovery import RecoveryPolicy


def test_policy_defaults() -> None:
    policy = RecoveryPolicy()
    assert policy.enabled is False
    assert (policy.max_attempts, policy.backoff_s, policy.max_backoff_s) == (3, 5.0, 60.0)
    assert policy.poll_interval_s == 30.0
    assert policy.checkpoint_strategy == "latest" and policy.checkpoint_path is None
    assert policy.restore_optimizer is True
    assert policy.on_recovery is None and policy.on_failure is None


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RecoveryPolicy()
    assert [policy.backoff(n) for n in range(1, 7)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_new_accepts_mappings_with_string_keys_and_milliseconds() -> None:
    policy = RecoveryPolicy.new({"enabled": True, "max_attempts": 5, "backoff_ms": 250, "poll_interval_ms": 1000})
    assert policy.enabled and policy.max_attempts == 5
    assert policy.backoff_s == 0.25 and policy.poll_interval_s == 1.0
    assert RecoveryPolicy.new(policy) is policy
    assert RecoveryPolicy.new(policy, max_attempts=1).max_attempts == 1


def test_new_ignores_unknown_keys_and_replaces_invalid_values() -> None:
    policy = RecoveryPolicy.new(
        {"enabled": "yes", "max_attempts": 0, "backoff_s": -1, "color": "red", "on_failure": 3, "restore_optimizer": 1}
    )
    assert policy == RecoveryPolicy()


@pytest.mark.parametrize(
    ("value", "strategy", "path"),
    [
        ("latest", "latest", None),
        ("best", "best", None),
        (("specific", "tinker://run/weights/a"), "specific", "tinker://run/weights/a"),
        ("tinker://run/weights/b", "specific", "tinker://run/weights/b"),
        ("newest", "latest", None),
        (("specific", "not-a-path"), "latest", None),
    ],
)
def test_checkpoint_strategies(value: object, strategy: str, path: str | None) -> None:
    policy = RecoveryPolicy.new({"checkpoint_strategy": value})
    assert (policy.checkpoint_strategy, policy.checkpoint_path) == (strategy, path)


def test_direct_construction_validates_the_strategy() -> None:
    with pytest.raises(ValueError):
        RecoveryPolicy(checkpoint_strategy="newest")
    with pytest.raises(ValueError):
        RecoveryPolicy(checkpoint_strategy="specific")
