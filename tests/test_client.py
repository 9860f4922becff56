"""The HTTP client against the emulator: statuses, retry rules, uploads, downloads, secrecy."""

from __future__ import annotations

import hashlib
import logging
import socket

import pytest
from imagefactory import png

from hailuo_nb import (
    APIError,
    AuthenticationError,
    BadRequestError,
    Client,
    GenerationRequest,
    InsufficientQuotaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    TransportError,
    ValidationError,
)
from hailuo_nb._client.credentials import MissingAPIKeyError

POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"


def wait_completed(client, task_id, limit=400):
    for _ in range(limit):
        snap = client.get_task(task_id)
        if snap.is_terminal:
            return snap
        import time

        time.sleep(0.02)
    raise AssertionError(f"{task_id} never finished")


def test_submit_and_follow_a_text_to_video_task(client, emulator):
    snap = client.submit(GenerationRequest(prompt="A fox in snow [Tracking shot]"))
    assert snap.id.startswith("task-unified-")
    assert snap.status == "pending"
    assert emulator.tasks_created == 1
    done = wait_completed(client, snap.id)
    assert done.status == "completed"
    assert done.progress == 100
    assert done.results and done.results[0].startswith(emulator.base_url)
    assert emulator.task(snap.id)["body"]["prompt"] == "A fox in snow [Tracking shot]"


@pytest.mark.parametrize(
    ("fault", "cls", "status"),
    [
        ("400", BadRequestError, 400),
        ("401", AuthenticationError, 401),
        ("402", InsufficientQuotaError, 402),
        ("403", PermissionDeniedError, 403),
        ("404", NotFoundError, 404),
        ("413", RequestTooLargeError, 413),
        ("429", RateLimitError, 429),
        ("500", ServerError, 500),
        ("502", ServerError, 502),
        ("503", ServerError, 503),
    ],
)
def test_every_documented_status_becomes_its_own_error(client, emulator, fault, cls, status):
    snap = client.submit(GenerationRequest(prompt="status check"))
    emulator.inject(GET, fault, times=1)
    with pytest.raises(cls) as info:
        client.get_task(snap.id, retry=False)
    err = info.value
    assert err.status == status
    assert isinstance(err, APIError)
    assert err.message  # the provider's words are kept
    assert err.type  # the envelope's type
    text = str(err)
    assert "\n" not in text
    assert str(status) in text


def test_401_says_how_to_set_the_key_and_never_shows_it(emulator_factory, api_key):
    emu = emulator_factory(api_keys=("the-only-valid-key",))
    client = Client(api_key=api_key, base_url=emu.base_url)
    with pytest.raises(AuthenticationError) as info:
        client.submit(GenerationRequest(prompt="hello"))
    assert "EVOLINK_API_KEY" in str(info.value)
    assert api_key not in str(info.value)
    assert api_key not in repr(info.value)
    assert api_key not in repr(client)
    assert emu.tasks_created == 0


def test_402_says_where_to_recharge(emulator_factory, api_key):
    emu = emulator_factory(quota_keys=(api_key,))
    client = Client(api_key=api_key, base_url=emu.base_url)
    with pytest.raises(InsufficientQuotaError) as info:
        client.submit(GenerationRequest(prompt="hello"))
    assert "recharge" in str(info.value)
    assert "billing" in str(info.value)


def test_get_is_retried_on_5xx_and_429(client, emulator):
    snap = client.submit(GenerationRequest(prompt="retry me"))
    client.backoff_base = 0.01
    emulator.inject(GET, "500", times=1)
    emulator.inject(GET, "502", times=1)
    before = emulator.stats["by_route"].get(GET, 0)
    got = client.get_task(snap.id)
    assert got.id == snap.id
    assert emulator.stats["by_route"][GET] - before == 3


def test_get_is_retried_after_a_dropped_connection(client, emulator):
    snap = client.submit(GenerationRequest(prompt="drop"))
    client.backoff_base = 0.01
    emulator.inject(GET, "drop_before", times=1)
    assert client.get_task(snap.id).id == snap.id


def test_post_is_not_repeated_after_a_dropped_response(client, emulator):
    emulator.inject(POST, "drop_after", times=1)
    with pytest.raises(TransportError) as info:
        client.submit(GenerationRequest(prompt="maybe created"))
    assert info.value.may_have_been_created
    assert "may have been created" in str(info.value)
    # The server did create it, and we did not send it a second time.
    assert emulator.tasks_created == 1
    assert emulator.stats["by_route"][POST] == 1


def test_post_is_not_repeated_after_a_500(client, emulator):
    emulator.inject(POST, "500", times=1)
    with pytest.raises(ServerError):
        client.submit(GenerationRequest(prompt="server error"))
    assert emulator.stats["by_route"][POST] == 1


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["429", "503"])
def test_post_is_retried_when_nothing_was_created(client, emulator, fault):
    client.backoff_base = 0.01
    client.deadline = 600
    emulator.configure(**{})
    emulator.inject(POST, fault, times=1)
    snap = client.submit(GenerationRequest(prompt="try again"))
    assert snap.id
    assert emulator.stats["by_route"][POST] == 2
    assert emulator.tasks_created == 1


@pytest.mark.slow
def test_connection_refused_is_a_transport_error_that_created_nothing(api_key):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(api_key=api_key, base_url=f"http://127.0.0.1:{port}", max_retries=1,
                    backoff_base=0.01)
    with pytest.raises(TransportError) as info:
        client.submit(GenerationRequest(prompt="nobody home"))
    assert not info.value.may_have_been_created
    assert "Could not reach" in str(info.value)


def test_retry_deadline_is_respected(client, emulator):
    snap = client.submit(GenerationRequest(prompt="deadline"))
    client.backoff_base = 0.01
    client.max_retries = 1000
    client.deadline = 0.5
    emulator.inject(GET, "500", times=10_000)
    with pytest.raises(ServerError):
        client.get_task(snap.id)
    # Far fewer than the 10,000 faults were consumed: it gave up at the deadline.
    assert emulator.stats["by_route"][GET] < 200


def test_advised_wait_longer_than_deadline_raises_at_once(client, emulator):
    snap = client.submit(GenerationRequest(prompt="rate"))
    client.deadline = 0.1
    emulator.inject(GET, "429", times=1)
    with pytest.raises(RateLimitError) as info:
        client.get_task(snap.id)
    assert info.value.retry_after and info.value.retry_after > 0.1
    assert "retr" in str(info.value)
    assert emulator.stats["by_route"][GET] == 1


def test_non_json_bodies_become_clear_errors(client, emulator):
    snap = client.submit(GenerationRequest(prompt="proxy"))
    emulator.inject(GET, "html502", times=1)
    with pytest.raises(ServerError) as info:
        client.get_task(snap.id, retry=False)
    assert info.value.status == 502
    assert "\n" not in str(info.value)
    emulator.inject(GET, "garbage", times=1)
    with pytest.raises(ServerError, match="not JSON"):
        client.get_task(snap.id, retry=False)


def test_bad_task_ids_are_refused_before_sending(client, emulator):
    for bad in ["", "   ", "a/b", "x" * 500]:
        with pytest.raises(ValidationError):
            client.get_task(bad)
    assert emulator.requests_seen == 0


def test_missing_key_says_how_to_set_one(emulator, monkeypatch):
    with pytest.raises(MissingAPIKeyError) as info:
        Client(base_url=emulator.base_url)
    assert "EVOLINK_API_KEY" in str(info.value)
    assert "%hailuo login" in str(info.value)


def test_key_and_urls_come_from_the_environment(emulator, env_for, api_key):
    env_for(emulator)
    client = Client()
    assert client.base_url == emulator.base_url
    assert client.files_url == emulator.files_url
    assert client.submit(GenerationRequest(prompt="env")).id


def test_upload_local_image_and_submit_image_to_video(client, emulator, tmp_path):
    path = tmp_path / "frame.png"
    path.write_bytes(png(640, 360))
    url = client.upload_image(path)
    assert url.startswith(emulator.files_url)
    snap = client.submit(GenerationRequest(image=path))
    body = emulator.task(snap.id)["body"]
    assert body["prompt"] == ""
    assert body["image_urls"][0].startswith(emulator.files_url)
    assert wait_completed(client, snap.id).status == "completed"


def test_download_streams_the_video_intact(client, emulator, tmp_path):
    snap = client.submit(GenerationRequest(prompt="download"))
    done = wait_completed(client, snap.id)
    seen = []
    path = client.download(done.results[0], tmp_path / "out" / "v.mp4",
                           progress=lambda n, total: seen.append((n, total)))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == emulator.video_sha256
    assert seen[-1][0] == seen[-1][1] == len(emulator.video_bytes)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".part-")]


def test_download_of_an_expired_link_says_so(emulator_factory, api_key, tmp_path):
    emu = emulator_factory(link_ttl=0.05)
    client = Client(api_key=api_key, base_url=emu.base_url)
    snap = client.submit(GenerationRequest(prompt="expire"))
    done = wait_completed(client, snap.id)
    import time

    time.sleep(0.2)
    with pytest.raises(NotFoundError, match="expire"):
        client.download(done.results[0], tmp_path / "late.mp4")
    assert not (tmp_path / "late.mp4").exists()


def test_download_refuses_non_http_urls(client, tmp_path):
    with pytest.raises(ValidationError):
        client.download("file:///etc/passwd", tmp_path / "x.mp4")


def test_key_never_in_logs(client, emulator, caplog, api_key):
    caplog.set_level(logging.DEBUG)
    snap = client.submit(GenerationRequest(prompt="logging"))
    emulator.inject(GET, "500", times=1)
    client.backoff_base = 0.01
    wait_completed(client, snap.id)
    emulator.inject(GET, "401", times=1)
    with pytest.raises(AuthenticationError) as info:
        client.get_task(snap.id)
    assert caplog.records  # urllib3 did log at DEBUG
    assert api_key not in caplog.text
    assert api_key not in str(info.value) and api_key not in repr(info.value)


def test_submitted_bodies_match_the_openapi_schema(client, emulator):
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    from pathlib import Path

    import hailuo_nb.emulator as emu_pkg

    spec_path = Path(emu_pkg.__file__).parent / "spec" / "video-generations.openapi.yaml"
    schema = yaml.safe_load(spec_path.read_text())["components"]["schemas"][
        "VideoGenerationRequest"
    ]
    schema = {**schema, "additionalProperties": False}
    requests_ = [
        GenerationRequest(prompt="A [Pan left,Pedestal up] shot"),
        GenerationRequest(prompt="x", quality="1080p", duration=6, prompt_optimizer=False),
        GenerationRequest(prompt="y", quality="768p", duration=10, fast_pretreatment=True),
        GenerationRequest(image="https://example.com/cat.jpg"),
    ]
    for req in requests_:
        snap = client.submit(req)
        jsonschema.validate(emulator.task(snap.id)["body"], schema)
