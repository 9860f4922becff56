"""More emulator behaviour over real HTTP, beside test_emulator.py: bounds of the image
checks, task memory, reseeding, keep-alive, secrets in records, configuration checks.

Waits are bounded polling loops; no test asserts that something was fast.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from imagefactory import jpeg, png, webp, webp_vp8

from hailuo_nb.emulator import Emulator, EmulatorConfig

MODEL = "MiniMax-Hailuo-2.3"
POST = "POST /v1/videos/generations"
TIMEOUT = 30


@pytest.fixture
def http(api_key):
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {api_key}"
        yield s


def submit(s, emu, **fields):
    body = {"model": MODEL, "prompt": "A heron on one leg [Static shot]", **fields}
    return s.post(f"{emu.base_url}/v1/videos/generations", json=body, timeout=TIMEOUT)


def task(s, emu, task_id):
    return s.get(f"{emu.base_url}/v1/tasks/{task_id}", timeout=TIMEOUT)


def poll(fetch, done, attempts=3000, pause=0.01):
    value = None
    for _ in range(attempts):
        value = fetch()
        if done(value):
            return value
        time.sleep(pause)
    raise AssertionError(f"never reached; last: {value!r}")


def upload(s, emu, data: bytes) -> str:
    r = s.post(f"{emu.files_url}/api/v1/files/upload/base64",
               json={"base64_data": base64.b64encode(data).decode()}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["data"]["file_url"]


# ------------------------------------------------------------------ image checks at the edges

EDGES = [  # makers, not bytes: the 20 MB images are built when the test runs
    ("short edge 301", lambda: png(301, 301), True),
    ("short edge 300", lambda: png(300, 300), False),
    ("short edge 300 of a wide image", lambda: png(700, 300), False),
    ("exactly 5:2", lambda: png(1000, 400), True),
    ("exactly 2:5", lambda: png(400, 1000), True),
    ("just past 5:2", lambda: png(1003, 400), False),
    ("just past 2:5", lambda: png(400, 1003), False),
    ("progressive JPEG", lambda: jpeg(640, 360, sof=0xC2), True),
    ("lossy WebP header", lambda: webp_vp8(1280, 720), True),
    ("extended WebP", lambda: webp(720, 1280, extended=True), True),
    ("exactly 20 MB", lambda: png(640, 360, size=20 * 1024 * 1024), True),
    ("20 MB + 1 byte", lambda: png(640, 360, size=20 * 1024 * 1024 + 1), False),
]


@pytest.mark.parametrize(("make", "accepted"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_image_limits_are_inclusive_where_documented(emulator, http, make, accepted):
    url = upload(http, emulator, make())
    r = submit(http, emulator, prompt="", image_urls=[url])
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "image_urls"
        assert emulator.tasks_created == 0


def test_own_upload_is_recognised_under_localhost_too(emulator, http):
    url = upload(http, emulator, png(200, 200))  # short edge too small
    alias = url.replace("127.0.0.1", "localhost")
    r = submit(http, emulator, prompt="", image_urls=[alias])
    assert r.status_code == 400 and r.json()["error"]["param"] == "image_urls"
    # The same path on another port is somebody else's server: taken as it is.
    elsewhere = alias.replace(f":{emulator.port}/", f":{emulator.port % 65535 + 1}/")
    assert submit(http, emulator, prompt="", image_urls=[elsewhere]).status_code == 200


def test_uploads_round_trip_bytes_and_names(emulator, http):
    data = png(640, 360) + bytes(range(256)) * 64  # trailing binary: CR, LF, NUL...
    r = http.post(f"{emulator.files_url}/api/v1/files/upload/stream",
                  files={"file": ("../../holiday shot.png", data, "image/png")}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    info = r.json()["data"]
    assert info["file_name"] == "holiday shot.png"  # no path parts
    assert info["file_size"] == len(data)
    assert info["file_url"] == info["download_url"]
    assert info["file_url"].endswith(f"/media/uploads/{info['file_id']}.png")
    served = requests.get(info["file_url"], timeout=TIMEOUT)
    assert served.content == data
    assert served.headers["Content-Type"] == "image/png"


# ------------------------------------------------------------------ tasks and timing

def test_estimated_time_rounds_up_and_video_duration_defaults_to_6(emulator_factory, http):
    emu = emulator_factory(task_seconds=7.2)
    view = task(http, emu, submit(http, emu).json()["id"]).json()
    assert view["task_info"] == {"can_cancel": False, "estimated_time": 8, "video_duration": 6}


@pytest.mark.slow
def test_a_failing_task_goes_through_processing_first(emulator_factory, http):
    emu = emulator_factory(task_seconds=3.0, fail_rate=1.0)
    task_id = submit(http, emu).json()["id"]
    seen = []

    def fetch():
        seen.append(task(http, emu, task_id).json())
        return seen[-1]

    poll(fetch, lambda v: v["status"] == "failed", attempts=5000)
    statuses = [v["status"] for v in seen]
    assert statuses[0] == "pending" and "processing" in statuses
    assert "completed" not in statuses
    assert seen[-1]["progress"] == 0 and seen[-1]["error"]["code"] == "service_error"


def test_the_oldest_task_is_forgotten_past_max_tasks(emulator_factory, http):
    emu = emulator_factory(max_tasks=3)
    ids = [submit(http, emu).json()["id"] for _ in range(4)]
    gone = task(http, emu, ids[0])
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Task not found or expired"
    assert all(task(http, emu, i).status_code == 200 for i in ids[1:])
    assert emu.tasks_created == 4


def test_configure_changes_only_new_tasks_timing(emulator, http):
    emulator.configure(task_seconds=600)
    slow = submit(http, emulator).json()["id"]
    emulator.configure(task_seconds=0.05)
    fast = submit(http, emulator).json()["id"]
    poll(lambda: task(http, emulator, fast).json(), lambda v: v["status"] == "completed")
    view = task(http, emulator, slow).json()
    assert view["status"] == "pending" and view["task_info"]["estimated_time"] == 600


def test_reseeding_live_replays_the_id_sequence(emulator_factory, http):
    fresh = emulator_factory(seed=5)
    expected = [submit(http, fresh).json()["id"][-8:] for _ in range(3)]
    emu = emulator_factory(seed=0)
    submit(http, emu)
    emu.configure(seed=5)
    assert [submit(http, emu).json()["id"][-8:] for _ in range(3)] == expected
    other = emulator_factory(seed=1)
    submit(http, other)
    requests.post(f"{other.base_url}/_emulator/config", json={"seed": 5}, timeout=TIMEOUT)
    assert [submit(http, other).json()["id"][-8:] for _ in range(3)] == expected


def test_custom_retry_after_for_injected_429_and_503(emulator, http):
    emulator.inject(POST, "503:7", times=2)
    a, b, c = (submit(http, emulator) for _ in range(3))
    assert a.status_code == b.status_code == 503 and c.status_code == 200
    assert a.headers["Retry-After"] == "7"
    assert a.json()["error"]["fallback_suggestion"] == "retry after 7 seconds"
    emulator.configure(retry_after=3)
    emulator.inject(POST, "429")
    r = submit(http, emulator)
    assert r.headers["Retry-After"] == "3"
    assert r.json()["error"]["fallback_suggestion"] == "retry after 3 seconds"


def test_pending_faults_are_visible(emulator):
    emulator.inject(POST, "500", times=2)
    emulator.inject("GET /media", "drop_before")
    assert emulator.pending_faults == {POST: ["500", "500"], "GET /media": ["drop_before"]}
    faults = requests.get(f"{emulator.base_url}/_emulator/faults", timeout=TIMEOUT).json()
    assert faults == emulator.pending_faults


# ------------------------------------------------------------------ connections

def test_keep_alive_serves_many_requests_on_one_connection(emulator, http):
    task_id = submit(http, emulator).json()["id"]
    for _ in range(30):
        assert task(http, emulator, task_id).status_code == 200
    stats = emulator.stats
    assert stats["peak_open_connections"] == 1
    assert stats["open_connections"] == 1


def test_leaving_the_with_block_does_not_wait_for_idle_clients(api_key):
    with Emulator(task_seconds=0.2) as emu:
        url = emu.base_url
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {api_key}"
        assert submit(s, emu).status_code == 200  # this keep-alive connection stays open
    assert not emu.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/stats", timeout=5)
    s.close()


# ------------------------------------------------------------------ secrets

def test_no_record_or_control_answer_holds_a_key(emulator_factory, api_key):
    emu = emulator_factory(api_keys=(api_key,), quota_keys=("sk-quota-secret",))
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {api_key}"
        task_id = submit(s, emu).json()["id"]
    texts = [
        json.dumps(emu.task(task_id)),
        json.dumps(emu.stats),
        requests.get(f"{emu.base_url}/_emulator/tasks/{task_id}", timeout=TIMEOUT).text,
        requests.get(f"{emu.base_url}/_emulator/config", timeout=TIMEOUT).text,
        requests.post(f"{emu.base_url}/_emulator/config", json={"rpm": 9}, timeout=TIMEOUT).text,
    ]
    for text in texts:
        assert api_key not in text and "sk-quota-secret" not in text
    assert "<1 keys>" in texts[3]


def test_a_refused_key_is_not_echoed(emulator_factory, api_key):
    emu = emulator_factory(api_keys=("the-only-key",))
    for url in (f"{emu.base_url}/v1/videos/generations",
                f"{emu.files_url}/api/v1/files/upload/base64"):
        r = requests.post(url, json={}, headers={"Authorization": f"Bearer {api_key}"},
                          timeout=TIMEOUT)
        assert r.status_code == 401
        assert api_key not in r.text and api_key not in str(r.headers)


# ------------------------------------------------------------------ configuration

def test_config_object_is_copied_checked_and_normalised():
    config = EmulatorConfig(task_seconds=0.5, api_keys=["k1"])
    emu = Emulator(config=config)
    assert emu.config.api_keys == ("k1",)
    assert emu.config is not config
    emu.configure(blocked_words=["lava"])
    assert config.blocked_words == ("nsfw",)  # the caller's object is left alone
    assert Emulator(api_keys="solo").config.api_keys == ("solo",)
    assert Emulator(error_statuses=503).config.error_statuses == (503,)
    default = Emulator().config
    assert (default.host, default.port, default.task_seconds, default.seed) == (
        "127.0.0.1", 0, 4.0, 0)
    assert default.link_ttl == 86400.0 and default.upload_ttl == 259200.0
    assert default.blocked_words == ("nsfw",) and default.error_statuses == (500, 502, 503)
    for bad in ({"no_such_setting": 1}, {"fail_rate": 1.5}, {"task_seconds": -1},
                {"error_statuses": (418,)}, {"max_tasks": 0}, {"rpm": -2}):
        with pytest.raises((TypeError, ValueError)):
            Emulator(**bad)
    with pytest.raises(RuntimeError):
        _ = Emulator().base_url


def test_a_failed_configure_changes_nothing(emulator):
    with pytest.raises(ValueError):
        emulator.configure(task_seconds=1.0, fail_rate=7)
    assert emulator.config.task_seconds == 0.2 and emulator.config.fail_rate == 0.0


def test_public_url_is_the_base_of_handed_out_links(emulator_factory, http):
    emu = emulator_factory(public_url="http://emulator.test:9000/")
    assert emu.base_url == emu.files_url == "http://emulator.test:9000"
    emu.configure(public_url=None)
    assert emu.base_url.startswith("http://127.0.0.1:")
