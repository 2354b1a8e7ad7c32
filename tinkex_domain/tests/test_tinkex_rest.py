"""Integration tests of RestClient against the emulator: runs, checkpoints, sessions, samplers."""

from __future__ import annotations

import datetime as dt

import pytest

from pristine_core import NotFoundError, ValidationError
from tinkex_domain import RestClient, ServiceClient, TrainingClient, types

from .conftest import BASE_MODEL, text_datum

Trained = tuple[TrainingClient, str, str]


@pytest.fixture(scope="module")
def trained(service: ServiceClient) -> Trained:
    tc = service.create_lora_training_client(BASE_MODEL, rank=4, user_metadata={"purpose": "rest-tests"})
    tc.forward_backward([text_datum("rest")], "cross_entropy")
    tc.optim_step(types.AdamParams())
    state = tc.save_state("rest-state").result(timeout=60).path
    sampler = tc.save_weights_for_sampler("rest-sampler").result(timeout=60).path
    assert sampler is not None
    return tc, state, sampler


@pytest.fixture(scope="module")
def rest(service: ServiceClient) -> RestClient:
    return service.create_rest_client()


def test_training_runs(rest: RestClient, trained: Trained) -> None:
    tc, state, _ = trained
    run = rest.get_training_run(tc.model_id).result()
    assert isinstance(run, types.TrainingRun)
    assert run.training_run_id == tc.model_id and run.base_model == BASE_MODEL and run.lora_rank == 4
    assert run.user_metadata == {"purpose": "rest-tests"}
    assert run.last_checkpoint is not None and run.last_checkpoint.tinker_path == state
    assert rest.get_training_run_by_tinker_path(state).result().training_run_id == tc.model_id
    page = rest.list_training_runs(limit=1).result()
    assert isinstance(page, types.TrainingRunsResponse) and len(page.training_runs) == 1
    assert page.cursor is not None and page.cursor.total_count >= 1
    all_runs = list(rest.iter_training_runs(page_size=1))
    assert tc.model_id in [r.training_run_id for r in all_runs]
    assert len(all_runs) == page.cursor.total_count


def test_checkpoint_listing_publish_ttl_archive_delete(rest: RestClient, trained: Trained) -> None:
    tc, state, sampler = trained
    listed = rest.list_checkpoints(tc.model_id).result()
    by_path = {c.tinker_path: c for c in listed.checkpoints}
    assert by_path[state].checkpoint_type == "training" and by_path[sampler].checkpoint_type == "sampler"
    assert by_path[state].checkpoint_id == "weights/rest-state"
    assert state in [c.tinker_path for c in rest.iter_user_checkpoints(page_size=1)]

    rest.publish_checkpoint_from_tinker_path(state).result()
    assert _find(rest, tc.model_id, state).public is True
    rest.unpublish_checkpoint_from_tinker_path(state).result()
    assert _find(rest, tc.model_id, state).public is False

    rest.set_checkpoint_ttl_from_tinker_path(state, 3600).result()
    expires = _find(rest, tc.model_id, state).expires_at_dt
    assert expires is not None and expires > dt.datetime.now(dt.timezone.utc)
    rest.set_checkpoint_ttl_from_tinker_path(state, None).result()
    assert _find(rest, tc.model_id, state).expires_at is None

    archive = rest.get_checkpoint_archive_url_from_tinker_path(state).result()
    assert isinstance(archive, types.CheckpointArchiveUrlResponse)
    assert archive.url.startswith("http://127.0.0.1:") and archive.expires_dt is not None

    info = rest.get_weights_info_by_tinker_path(state).result()
    assert info.base_model == BASE_MODEL and info.lora_rank == 4

    rest.delete_checkpoint_from_tinker_path(sampler).result()
    assert sampler not in [c.tinker_path for c in rest.list_checkpoints(tc.model_id).result().checkpoints]
    with pytest.raises(NotFoundError):
        rest.delete_checkpoint_from_tinker_path(sampler).result()


def _find(rest: RestClient, run_id: str, path: str) -> types.Checkpoint:
    return next(c for c in rest.list_checkpoints(run_id).result().checkpoints if c.tinker_path == path)


def test_sessions_and_samplers(service: ServiceClient, rest: RestClient, trained: Trained) -> None:
    tc = trained[0]
    sampler_path = tc.save_weights_for_sampler("rest-sampler-2").result(timeout=60).path
    assert service.session_id in rest.list_sessions(limit=100).result().sessions
    assert service.session_id in list(rest.iter_sessions(page_size=1))
    session = rest.get_session(service.session_id).result()
    assert tc.model_id in session.training_run_ids
    sampling = service.create_sampling_client(model_path=sampler_path)
    got = rest.get_sampler(sampling.sampling_session_id).result()
    assert got.sampler_id == sampling.sampling_session_id and got.model_path == sampler_path


def test_arguments_are_checked_before_any_request(rest: RestClient) -> None:
    with pytest.raises(ValidationError, match="access_scope"):
        rest.list_training_runs(access_scope="everyone")
    with pytest.raises(ValidationError, match="tinker_path"):
        rest.delete_checkpoint_from_tinker_path("tinker://only-two/parts")
    with pytest.raises(ValidationError, match="ttl_seconds"):
        rest.set_checkpoint_ttl_from_tinker_path("tinker://r/weights/x", 0)
    with pytest.raises(ValidationError, match="limit"):
        rest.list_user_checkpoints(limit=0)


def test_server_errors_arrive_through_the_future(rest: RestClient) -> None:
    future = rest.get_training_run("no-such-run")
    assert future.done()
    with pytest.raises(NotFoundError):
        future.result()
