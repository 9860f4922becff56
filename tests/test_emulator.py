"""The emulator over real HTTP: endpoints, validation, auth, timeline, media with Range,
the files API, faults (seeded and injected), stats and control endpoints, load.

Every test talks to a real ``Emulator`` on a free 127.0.0.1 port with ``requests``.
No test asserts on elapsed time beyond "at least": waits are bounded polling loops.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from imagefactory import gif, jpeg, png, webp

from hailuo_nb.emulator import FAULTS, ROUTES, Emulator

MODEL = "MiniMax-Hailuo-2.3"
POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"
B64 = "POST /api/v1/files/upload/base64"
STREAM = "POST /api/v1/files/upload/stream"
MEDIA = "GET /media"
ID_RE = re.compile(r"^task-unified-(\d+)-([a-z0-9]{8})$")
TIMEOUT = 30  # a bound on every request, never an assertion


# ---------------------------------------------------------------------------- helpers


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def body(**fields) -> dict:
    data = {"model": MODEL, "prompt": "A red fox runs through snow [Tracking shot]"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not _DROP}


_DROP = object()


def submit(emu, key, data=None, session=None, **fields):
    http = session or requests
    return http.post(f"{emu.base_url}/v1/videos/generations",
                     json=body(**fields) if data is None else data,
                     headers=auth(key), timeout=TIMEOUT)


def get_task(emu, key, task_id, session=None):
    http = session or requests
    return http.get(f"{emu.base_url}/v1/tasks/{task_id}", headers=auth(key), timeout=TIMEOUT)


def wait_for(emu, key, task_id, statuses=("completed", "failed"), limit=60.0):
    """Poll until the task's status is one of ``statuses``; return every view seen."""
    seen = []
    deadline = time.monotonic() + limit
    with requests.Session() as session:
        while time.monotonic() < deadline:
            r = get_task(emu, key, task_id, session)
            assert r.status_code == 200, r.text
            seen.append(r.json())
            if seen[-1]["status"] in statuses:
                return seen
            time.sleep(0.03)
    raise AssertionError(f"{task_id} never reached {statuses}; last: {seen[-1:]}")


def upload_b64(emu, key, data: bytes, *, data_url: str | None = None):
    text = base64.b64encode(data).decode()
    if data_url:
        text = f"data:{data_url};base64,{text}"
    return requests.post(f"{emu.files_url}/api/v1/files/upload/base64",
                         json={"base64_data": text}, headers=auth(key), timeout=TIMEOUT)


def upload_stream(emu, key, data: bytes, name="image.png", mime="image/png", field="file"):
    return requests.post(f"{emu.files_url}/api/v1/files/upload/stream",
                         files={field: (name, data, mime)}, headers=auth(key), timeout=TIMEOUT)


def uploaded_url(emu, key, data: bytes) -> str:
    r = upload_b64(emu, key, data)
    assert r.status_code == 200, r.text
    return r.json()["data"]["file_url"]


def completed_video_url(emu, key) -> str:
    r = submit(emu, key)
    assert r.status_code == 200, r.text
    views = wait_for(emu, key, r.json()["id"])
    assert views[-1]["status"] == "completed", views[-1]
    return views[-1]["results"][0]


def assert_envelope(r, status, type_, param=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == status
    assert error["type"] == type_
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error.get("param") == param, error
    return error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- generation


def test_create_answers_the_documented_pending_task(emulator, api_key):
    r = submit(emulator, api_key)
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"created", "id", "model", "object", "progress", "status", "usage"}
    assert data["usage"]["credits_reserved"] > 0  # FACTS.md: usage may come with the submit
    assert ID_RE.match(data["id"]), data["id"]
    assert data["model"] == MODEL
    assert data["object"] == "video.generation.task"
    assert (data["progress"], data["status"]) == (0, "pending")
    assert isinstance(data["created"], int) and abs(data["created"] - time.time()) < 3600
    assert emulator.tasks_created == 1
    kept = emulator.task(data["id"])
    assert kept["body"] == body()
    assert kept["prompt"] == body()["prompt"]


@pytest.mark.slow
def test_a_long_task_is_pending_then_processing_with_rising_progress_then_completed(
    emulator_factory, api_key
):
    emu = emulator_factory(task_seconds=3.0)
    task_id = submit(emu, api_key).json()["id"]
    views = wait_for(emu, api_key, task_id)
    statuses = [v["status"] for v in views]
    # The order never goes back, and every phase is seen.
    order = {"pending": 0, "processing": 1, "completed": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert "processing" in statuses and statuses[-1] == "completed"
    progress = [v["progress"] for v in views]
    assert progress == sorted(progress)
    middle = [v["progress"] for v in views if v["status"] == "processing"]
    assert all(0 < p < 100 for p in middle)
    assert len(set(middle)) >= 2  # it rises while processing
    for view in views:
        assert view["id"] == task_id
        assert view["object"] == "video.generation.task"
        assert view["model"] == MODEL
        assert view["type"] == "video"
        assert view["task_info"]["estimated_time"] >= 1
        assert view["task_info"]["can_cancel"] is False
        assert "error" not in view
        assert ("results" in view) == (view["status"] == "completed")
    done = views[-1]
    assert done["progress"] == 100
    assert done["results"] == [f"{emu.base_url}/media/results/{task_id}.mp4"]


def test_a_new_task_is_reported_pending_with_progress_zero(emulator_factory, api_key):
    emu = emulator_factory(task_seconds=600)
    task_id = submit(emu, api_key).json()["id"]
    view = get_task(emu, api_key, task_id).json()
    assert (view["status"], view["progress"]) == ("pending", 0)
    assert view["task_info"]["estimated_time"] == 600
    assert view["task_info"]["video_duration"] == 6


def test_video_duration_follows_the_request(emulator, api_key):
    task_id = submit(emulator, api_key, duration=10).json()["id"]
    assert get_task(emulator, api_key, task_id).json()["task_info"]["video_duration"] == 10


def test_task_jitter_is_seeded_and_bounded(emulator_factory, api_key):
    durations = []
    for _ in range(2):
        emu = emulator_factory(task_seconds=10, task_jitter=0.5, seed=42)
        ids = [submit(emu, api_key).json()["id"] for _ in range(5)]
        durations.append([emu.task(i)["duration"] for i in ids])
    assert durations[0] == durations[1]
    assert all(5.0 <= d <= 15.0 for d in durations[0])
    assert len(set(durations[0])) > 1


def test_the_result_is_a_real_playable_mp4(emulator, api_key, tmp_path):
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed")
    url = completed_video_url(emulator, api_key)
    r = requests.get(url, timeout=TIMEOUT)  # no Authorization on media links
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.content == emulator.video_bytes
    assert hashlib.sha256(r.content).hexdigest() == emulator.video_sha256
    path = tmp_path / "result.mp4"
    path.write_bytes(r.content)
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=codec_name,codec_type",
         "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    info = json.loads(probe.stdout)
    codecs = {s["codec_name"] for s in info["streams"] if s["codec_type"] == "video"}
    assert "h264" in codecs
    assert float(info["format"]["duration"]) > 0


def test_a_custom_video_file_is_served_as_every_result(emulator_factory, api_key, tmp_path):
    video = tmp_path / "mine.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    emu = emulator_factory(video_path=str(video))
    url = completed_video_url(emu, api_key)
    assert requests.get(url, timeout=TIMEOUT).content == video.read_bytes()
    assert emu.video_bytes == video.read_bytes()


# ---------------------------------------------------------------------------- media: HEAD, Range


@pytest.fixture
def video(emulator, api_key):
    """(url, bytes) of a completed result."""
    return completed_video_url(emulator, api_key), emulator.video_bytes


def test_head_gives_the_headers_and_no_body(video):
    url, data = video
    r = requests.head(url, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Type"] == "video/mp4"
    ranged = requests.head(url, headers={"Range": "bytes=10-19"}, timeout=TIMEOUT)
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert ranged.headers["Content-Length"] == "10"


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("bytes=0-99", lambda n: (0, 99)),
        ("bytes=0-0", lambda n: (0, 0)),
        ("bytes={mid}-{mid_end}", lambda n: (n // 2, n // 2 + 999)),  # seek to the middle
        ("bytes={mid}-", lambda n: (n // 2, n - 1)),  # open-ended
        ("bytes=-500", lambda n: (n - 500, n - 1)),  # suffix: the last 500 bytes
        ("bytes=-1", lambda n: (n - 1, n - 1)),
        ("bytes=-{big}", lambda n: (0, n - 1)),  # suffix longer than the file: all of it
        ("bytes=100-{big}", lambda n: (100, n - 1)),  # end past the end: clipped
        ("bytes={last}-{last}", lambda n: (n - 1, n - 1)),
    ],
)
def test_range_requests_on_results(video, spec, expect):
    url, data = video
    n = len(data)
    header = spec.format(mid=n // 2, mid_end=n // 2 + 999, big=n * 10, last=n - 1)
    r = requests.get(url, headers={"Range": header}, timeout=TIMEOUT)
    start, end = expect(n)
    assert r.status_code == 206, header
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{n}"
    assert int(r.headers["Content-Length"]) == end - start + 1
    assert r.content == data[start:end + 1]


@pytest.mark.parametrize("spec", ["bytes={n}-", "bytes={n}-{big}", "bytes={big}-", "bytes=-0"])
def test_unsatisfiable_ranges_are_416_with_the_size(video, spec):
    url, data = video
    n = len(data)
    header = spec.format(n=n, big=n * 10)
    r = requests.get(url, headers={"Range": header}, timeout=TIMEOUT)
    assert r.status_code == 416, header
    assert r.headers["Content-Range"] == f"bytes */{n}"
    assert r.content == b""
    # The connection is still usable afterwards.
    assert requests.get(url, timeout=TIMEOUT).content == data


@pytest.mark.parametrize("spec", ["bytes=50-10", "bytes=-", "items=0-10", "bytes=abc",
                                  "bytes=0-1,5-6", ""])
def test_a_range_that_is_not_one_valid_byte_range_is_ignored(video, spec):
    # RFC 9110 14.2: a server may ignore a Range it does not understand or finds invalid.
    url, data = video
    r = requests.get(url, headers={"Range": spec}, timeout=TIMEOUT)
    assert r.status_code == 200, spec
    assert r.content == data
    assert "Content-Range" not in r.headers


def test_a_video_read_in_pieces_over_one_connection_is_the_whole_video(video):
    url, data = video
    pieces = []
    with requests.Session() as session:
        for start in range(0, len(data), 4096):
            r = session.get(url, headers={"Range": f"bytes={start}-{start + 4095}"},
                            timeout=TIMEOUT)
            assert r.status_code == 206
            pieces.append(r.content)
    assert b"".join(pieces) == data


def test_media_needs_no_authorization_even_with_api_keys(emulator_factory):
    emu = emulator_factory(api_keys=("only-this",))
    url = completed_video_url(emu, "only-this")
    for headers in ({}, auth("someone-else"), {"Authorization": "junk"}):
        assert requests.get(url, headers=headers, timeout=TIMEOUT).status_code == 200
    up = uploaded_url(emu, "only-this", png(400, 400))
    assert requests.get(up, timeout=TIMEOUT).status_code == 200


def test_media_of_unfinished_failed_or_unknown_tasks_is_404(emulator_factory, api_key):
    emu = emulator_factory(task_seconds=600)
    pending = submit(emu, api_key).json()["id"]
    emu.configure(task_seconds=0.05)
    failed = submit(emu, api_key, prompt="nsfw thing").json()["id"]
    wait_for(emu, api_key, failed)
    for name in (f"results/{pending}.mp4", f"results/{failed}.mp4",
                 "results/task-unified-1-nothing0.mp4", "uploads/file-1-nothing.png",
                 "elsewhere/x.mp4"):
        for method in (requests.get, requests.head):
            r = method(f"{emu.base_url}/media/{name}", timeout=TIMEOUT)
            assert r.status_code == 404, name


def test_result_links_expire_after_link_ttl(emulator_factory, api_key):
    emu = emulator_factory(link_ttl=3600)
    url = completed_video_url(emu, api_key)
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    emu.configure(link_ttl=0.3)
    for _ in range(300):
        r = requests.get(url, timeout=TIMEOUT)
        if r.status_code == 404:
            break
        assert r.status_code == 200
        time.sleep(0.05)
    else:
        raise AssertionError("the link never expired")
    assert_envelope(r, 404, "not_found_error")
    assert requests.head(url, timeout=TIMEOUT).status_code == 404
    # The task itself still says completed with the (now dead) link.
    task_id = url.rsplit("/", 1)[-1][: -len(".mp4")]
    assert get_task(emu, api_key, task_id).json()["status"] == "completed"


def test_a_short_link_ttl_from_the_start(emulator_factory, api_key):
    emu = emulator_factory(task_seconds=0.05, link_ttl=0.2)
    r = submit(emu, api_key)
    wait_for(emu, api_key, r.json()["id"])
    url = f"{emu.base_url}/media/results/{r.json()['id']}.mp4"
    for _ in range(300):
        if requests.get(url, timeout=TIMEOUT).status_code == 404:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the link never expired")


# ---------------------------------------------------------------------------- files API


IMAGES = {
    "png": (png(640, 480), "image/png", "png"),
    "jpeg": (jpeg(640, 480), "image/jpeg", "jpg"),
    "webp": (webp(640, 480), "image/webp", "webp"),
    "gif": (gif(640, 480), "image/gif", "gif"),
}


def check_upload_answer(emu, r, data, mime, ext):
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["success"] is True
    assert answer["code"] == 200
    assert answer["msg"]
    info = answer["data"]
    for name in ("file_id", "file_url", "download_url", "expires_at"):
        assert info[name], name
    assert info["file_url"].startswith(f"{emu.files_url}/media/uploads/")
    assert info["file_url"].endswith(f".{ext}")
    assert info["mime_type"] == mime
    assert info["file_size"] == len(data)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["expires_at"])
    served = requests.get(info["file_url"], timeout=TIMEOUT)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["Content-Type"] == mime
    return info


@pytest.mark.parametrize("fmt", sorted(IMAGES))
def test_upload_raw_base64(emulator, api_key, fmt):
    data, mime, ext = IMAGES[fmt]
    check_upload_answer(emulator, upload_b64(emulator, api_key, data), data, mime, ext)


@pytest.mark.parametrize("fmt", sorted(IMAGES))
def test_upload_base64_data_url(emulator, api_key, fmt):
    data, mime, ext = IMAGES[fmt]
    r = upload_b64(emulator, api_key, data, data_url=mime)
    check_upload_answer(emulator, r, data, mime, ext)


@pytest.mark.parametrize("fmt", sorted(IMAGES))
def test_upload_multipart_stream(emulator, api_key, fmt):
    data, mime, ext = IMAGES[fmt]
    # The format comes from the bytes, not from the name or the declared type.
    r = upload_stream(emulator, api_key, data, name="whatever.bin",
                      mime="application/octet-stream")
    check_upload_answer(emulator, r, data, mime, ext)


def test_upload_base64_wrapped_in_lines_and_upper_case_data_url(emulator, api_key):
    data = png(640, 480)
    for text in (base64.encodebytes(data).decode(),  # 76-column lines
                 "data:image/png;BASE64," + base64.b64encode(data).decode(),
                 "  " + base64.b64encode(data).decode() + "\n"):
        r = requests.post(f"{emulator.files_url}/api/v1/files/upload/base64",
                          json={"base64_data": text}, headers=auth(api_key), timeout=TIMEOUT)
        check_upload_answer(emulator, r, data, "image/png", "png")


def test_uploads_support_range_and_head(emulator, api_key):
    data = png(800, 600)
    url = uploaded_url(emulator, api_key, data)
    n = len(data)
    r = requests.get(url, headers={"Range": "bytes=-100"}, timeout=TIMEOUT)
    assert r.status_code == 206
    assert r.content == data[-100:]
    assert r.headers["Content-Range"] == f"bytes {n - 100}-{n - 1}/{n}"
    r = requests.get(url, headers={"Range": f"bytes={n // 2}-{n // 2 + 9}"}, timeout=TIMEOUT)
    assert r.content == data[n // 2:n // 2 + 10]
    r = requests.get(url, headers={"Range": f"bytes={n}-"}, timeout=TIMEOUT)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{n}"
    h = requests.head(url, timeout=TIMEOUT)
    assert (h.status_code, h.content, int(h.headers["Content-Length"])) == (200, b"", n)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        ({"base64_data": "%%% not base64 %%%"}, "junk"),
        ({"base64_data": base64.b64encode(b"just some text").decode()}, "not an image"),
        ({"base64_data": "data:image/png," + base64.b64encode(png(400, 400)).decode()},
         "data URL without ;base64"),
        ({"file": base64.b64encode(png(400, 400)).decode()}, "wrong field"),
        ([], "not an object"),
    ],
)
def test_bad_base64_uploads_are_400_in_the_files_envelope(emulator, api_key, payload, what):
    r = requests.post(f"{emulator.files_url}/api/v1/files/upload/base64", json=payload,
                      headers=auth(api_key), timeout=TIMEOUT)
    assert r.status_code == 400, what
    answer = r.json()
    assert answer["success"] is False
    assert answer["code"] == 400
    assert answer["msg"]
    assert emulator.stats["uploads"] == 0


def test_bad_stream_uploads_are_400(emulator, api_key):
    url = f"{emulator.files_url}/api/v1/files/upload/stream"
    wrong_field = upload_stream(emulator, api_key, png(400, 400), field="image")
    not_multipart = requests.post(url, data=png(400, 400), headers={
        **auth(api_key), "Content-Type": "image/png"}, timeout=TIMEOUT)
    not_image = upload_stream(emulator, api_key, b"%PDF-1.4 not an image", name="x.pdf")
    for r in (wrong_field, not_multipart, not_image):
        assert r.status_code == 400
        assert r.json()["success"] is False
    assert emulator.stats["uploads"] == 0


def test_uploads_need_the_key(emulator_factory, api_key):
    emu = emulator_factory(api_keys=(api_key,), quota_keys=("poor",))
    data = png(400, 400)
    for headers, status in (({}, 401), (auth("wrong"), 401), (auth("poor"), 401)):
        r = requests.post(f"{emu.files_url}/api/v1/files/upload/base64",
                          json={"base64_data": base64.b64encode(data).decode()},
                          headers=headers, timeout=TIMEOUT)
        assert r.status_code == status
        assert r.json()["success"] is False
    assert emu.stats["uploads"] == 0
    assert upload_b64(emu, api_key, data).status_code == 200


def test_uploads_expire_after_upload_ttl(emulator_factory, api_key):
    emu = emulator_factory(upload_ttl=3600)
    url = uploaded_url(emu, api_key, png(400, 400))
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    emu.configure(upload_ttl=0.0)
    url2 = uploaded_url(emu, api_key, png(400, 400))
    for _ in range(200):
        if requests.get(url2, timeout=TIMEOUT).status_code == 404:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the upload never expired")
    # An expired upload can no longer start an image-to-video task.
    r = submit(emu, api_key, image_urls=[url2], prompt="")
    assert_envelope(r, 400, "invalid_request_error", "image_urls")


# ---------------------------------------------------------------------------- validation


LONG = "x" * 2001
REFUSED = [
    # (case id, request body, param named)
    ("no model", body(model=_DROP), "model"),
    ("wrong model", body(model="MiniMax-Hailuo-02"), "model"),
    ("model lower case", body(model="minimax-hailuo-2.3"), "model"),
    ("model not a string", body(model=23), "model"),
    ("no prompt", body(prompt=_DROP), "prompt"),
    ("prompt 2001 characters", body(prompt=LONG), "prompt"),
    ("prompt 2001 non-ASCII characters", body(prompt="é" * 2001), "prompt"),
    ("prompt not a string", body(prompt=["a"]), "prompt"),
    ("prompt null", body(prompt=None), "prompt"),
    ("T2V empty prompt", body(prompt=""), "prompt"),
    ("T2V blank prompt", body(prompt="   \n"), "prompt"),
    ("T2V empty prompt, empty image list", body(prompt="", image_urls=[]), "prompt"),
    ("two images", body(image_urls=["https://a.example/1.png", "https://a.example/2.png"]),
     "image_urls"),
    ("ftp image", body(image_urls=["ftp://a.example/1.png"]), "image_urls"),
    ("file image", body(image_urls=["file:///etc/passwd"]), "image_urls"),
    ("data URL image", body(image_urls=["data:image/png;base64,iVBORw0KGgo="]), "image_urls"),
    ("bare path image", body(image_urls=["/tmp/a.png"]),
     "image_urls"),
    ("URL without host", body(image_urls=["https://"]), "image_urls"),
    ("image_urls a string", body(image_urls="https://a.example/1.png"), "image_urls"),
    ("image_urls of numbers", body(image_urls=[1]), "image_urls"),
    ("image_urls null", body(image_urls=None), "image_urls"),
    ("quality 720p", body(quality="720p"), "quality"),
    ("quality upper case", body(quality="1080P"), "quality"),
    ("quality a number", body(quality=1080), "quality"),
    ("quality null", body(quality=None), "quality"),
    ("duration a string", body(duration="6"), "duration"),
    ("duration true", body(duration=True), "duration"),
    ("duration false", body(duration=False), "duration"),
    ("duration 8", body(duration=8), "duration"),
    ("duration 6.5", body(duration=6.5), "duration"),
    ("duration null", body(duration=None), "duration"),
    ("1080p for 10 s", body(quality="1080p", duration=10), "duration"),
    ("model_params a list", body(model_params=[]), "model_params"),
    ("model_params a string", body(model_params="fast"), "model_params"),
    ("unknown model_params key", body(model_params={"seed": 3}), "model_params.seed"),
    ("prompt_optimizer a string", body(model_params={"prompt_optimizer": "yes"}),
     "model_params.prompt_optimizer"),
    ("fast_pretreatment an int", body(model_params={"fast_pretreatment": 1}),
     "model_params.fast_pretreatment"),
    ("unknown top-level field", body(aspect_ratio="16:9"), "aspect_ratio"),
    ("misspelt field", body(durations=6), "durations"),
    ("callback_url not in this contract", body(callback_url="https://a.example/cb"),
     "callback_url"),
]


@pytest.mark.parametrize(("case", "data", "param"), REFUSED, ids=[c[0] for c in REFUSED])
def test_every_contract_violation_is_a_400_naming_the_param(
    emulator, api_key, case, data, param
):
    r = submit(emulator, api_key, data)
    error = assert_envelope(r, 400, "invalid_request_error", param)
    assert set(error) <= {"code", "message", "type", "param"}
    assert emulator.tasks_created == 0


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{not json", "application/json"), (b"", "application/json"),
     (b"[1, 2]", "application/json"), (b'"a string"', "application/json"),
     (b"\xff\xfe\x00", "application/json")],
)
def test_a_body_that_is_not_a_json_object_is_a_400(emulator, api_key, raw, content_type):
    r = requests.post(f"{emulator.base_url}/v1/videos/generations", data=raw,
                      headers={**auth(api_key), "Content-Type": content_type}, timeout=TIMEOUT)
    assert_envelope(r, 400, "invalid_request_error")
    assert emulator.tasks_created == 0


ACCEPTED = [
    ("minimal", body()),
    ("prompt of exactly 2000 characters", body(prompt="y" * 2000)),
    ("2000 non-ASCII characters", body(prompt="猫" * 2000)),
    ("768p 6 s", body(quality="768p", duration=6)),
    ("768p 10 s", body(quality="768p", duration=10)),
    ("1080p 6 s", body(quality="1080p", duration=6)),
    ("1080p, default duration", body(quality="1080p")),
    ("both model_params", body(model_params={"prompt_optimizer": False,
                                             "fast_pretreatment": True})),
    ("empty model_params", body(model_params={})),
    ("empty image list", body(image_urls=[])),
    ("I2V with a foreign https URL and no prompt",
     body(prompt="", image_urls=["https://cdn.example.com/cat.jpg"])),
    ("I2V with a foreign http URL and a prompt",
     body(image_urls=["http://cdn.example.com/cat.png"])),
    ("I2V with prompt omitted? no: prompt is required, so an empty one",
     body(prompt="", image_urls=["https://cdn.example.com/a.webp"], quality="1080p")),
    ("camera commands", body(prompt="A street [Pan left,Pedestal up], then [Push in]")),
]


@pytest.mark.parametrize(("case", "data"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_valid_bodies_are_accepted(emulator, api_key, case, data):
    r = submit(emulator, api_key, data)
    assert r.status_code == 200, r.text
    assert emulator.task(r.json()["id"])["body"] == data


def test_i2v_mode_comes_from_the_image(emulator, api_key):
    url = uploaded_url(emulator, api_key, png(1280, 720))
    r = submit(emulator, api_key, prompt="", image_urls=[url])
    assert r.status_code == 200, r.text
    views = wait_for(emulator, api_key, r.json()["id"])
    assert views[-1]["status"] == "completed"


MB20 = 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("make", "accepted", "why"),
    [
        (lambda: png(1280, 720), True, "png 16:9"),
        (lambda: jpeg(720, 1280), True, "jpeg 9:16"),
        (lambda: webp(1024, 1024), True, "webp square"),
        (lambda: png(301, 301), True, "short edge 301"),
        (lambda: png(300, 600), False, "short edge exactly 300"),
        (lambda: jpeg(200, 200), False, "tiny"),
        (lambda: png(1000, 400), True, "exactly 5:2"),
        (lambda: png(400, 1000), True, "exactly 2:5"),
        (lambda: png(1001, 400), False, "wider than 5:2"),
        (lambda: png(400, 1001), False, "taller than 2:5"),
        (lambda: gif(640, 480), False, "GIF is uploadable but not a video source"),
        (lambda: png(640, 480, size=MB20), True, "exactly 20 MB"),
        (lambda: png(640, 480, size=MB20 + 1), False, "one byte over 20 MB"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_own_uploads_are_checked_by_content(emulator, api_key, make, accepted, why):
    data = make()
    url = uploaded_url(emulator, api_key, data)
    r = submit(emulator, api_key, prompt="", image_urls=[url])
    if accepted:
        assert r.status_code == 200, (why, r.text)
    else:
        assert_envelope(r, 400, "invalid_request_error", "image_urls")
        assert emulator.tasks_created == 0


def test_an_unknown_own_upload_is_refused(emulator, api_key):
    url = f"{emulator.files_url}/media/uploads/file-1-doesnotexist.png"
    r = submit(emulator, api_key, image_urls=[url])
    assert_envelope(r, 400, "invalid_request_error", "image_urls")


def test_the_first_problem_is_reported_and_nothing_is_created(emulator, api_key):
    r = submit(emulator, api_key, {"prompt": 5, "quality": "4k", "bogus": 1})
    assert_envelope(r, 400, "invalid_request_error", "bogus")
    assert emulator.tasks_created == 0
    assert nonzero(emulator.stats["by_status"]) == {"400": 1}


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer   "},
     {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "sk-raw-key-without-scheme"}],
    ids=["none", "empty", "scheme only", "blank key", "basic", "no scheme"],
)
def test_missing_or_malformed_bearer_is_401(emulator, headers):
    r = requests.post(f"{emulator.base_url}/v1/videos/generations", json=body(),
                      headers=headers, timeout=TIMEOUT)
    assert_envelope(r, 401, "authentication_error")
    g = requests.get(f"{emulator.base_url}/v1/tasks/task-unified-1-abcdefgh", headers=headers,
                     timeout=TIMEOUT)
    assert_envelope(g, 401, "authentication_error")
    assert emulator.tasks_created == 0


def test_with_api_keys_only_those_keys_pass(emulator_factory, api_key):
    emu = emulator_factory(api_keys=(api_key, "second-key"))
    assert submit(emu, api_key).status_code == 200
    assert submit(emu, "second-key").status_code == 200
    for wrong in ("unknown", api_key + "x", api_key[:-1], api_key.upper()):
        assert_envelope(submit(emu, wrong), 401, "authentication_error")
    task_id = submit(emu, api_key).json()["id"]
    assert_envelope(get_task(emu, "unknown", task_id), 401, "authentication_error")
    assert get_task(emu, "second-key", task_id).status_code == 200
    assert emu.tasks_created == 3


def test_api_keys_given_as_one_string_is_one_key(emulator_factory):
    emu = emulator_factory(api_keys="the-key")
    assert emu.config.api_keys == ("the-key",)
    assert submit(emu, "the-key").status_code == 200
    assert submit(emu, "t").status_code == 401


def test_without_api_keys_any_non_empty_key_passes(emulator):
    assert submit(emulator, "anything-at-all").status_code == 200


def test_a_quota_key_is_402_with_the_billing_link(emulator_factory, api_key):
    emu = emulator_factory(quota_keys=(api_key,))
    for r in (submit(emu, api_key), get_task(emu, api_key, "task-unified-1-abcdefgh")):
        error = assert_envelope(r, 402, "insufficient_quota_error")
        assert error["fallback_suggestion"] == "https://evolink.ai/dashboard/billing"
    assert submit(emu, "another-key").status_code == 200
    assert emu.tasks_created == 1


def test_auth_comes_before_validation(emulator):
    r = requests.post(f"{emulator.base_url}/v1/videos/generations", json={"junk": 1},
                      timeout=TIMEOUT)
    assert r.status_code == 401


# ---------------------------------------------------------------------------- task detail


@pytest.mark.parametrize("task_id", ["bad%20id", "a" * 129, "semi%3Bcolon", "x%2Fy", "%00"])
def test_a_malformed_task_id_is_400_naming_task_id(emulator, api_key, task_id):
    r = get_task(emulator, api_key, task_id)
    error = assert_envelope(r, 400, "invalid_request_error", "task_id")
    assert error["message"] == "Invalid task ID format"


def test_an_unknown_task_is_404_naming_task_id(emulator, api_key):
    r = get_task(emulator, api_key, "task-unified-1700000000-zzzzzzzz")
    error = assert_envelope(r, 404, "not_found_error", "task_id")
    assert error["message"] == "Task not found or expired"


def test_tasks_are_visible_to_any_key(emulator, api_key):
    # The service scopes tasks per account; the emulator does not (documented simplification):
    # what matters here is that a valid key can read a task it created.
    task_id = submit(emulator, api_key).json()["id"]
    assert get_task(emulator, api_key, task_id).status_code == 200


def test_unknown_endpoints_are_json_404_and_wrong_methods_405(emulator, api_key):
    for method, path in (("GET", "/"), ("GET", "/v2/tasks/x"), ("POST", "/v1/videos"),
                         ("POST", "/api/v1/files/upload/url")):
        r = requests.request(method, emulator.base_url + path, headers=auth(api_key),
                             json={}, timeout=TIMEOUT)
        assert_envelope(r, 404, "not_found_error")
    for method, path, allow in (("GET", "/v1/videos/generations", "POST"),
                                ("POST", "/v1/tasks/x", "GET"), ("DELETE", "/v1/tasks/x", "GET"),
                                ("PUT", "/v1/videos/generations", "POST")):
        r = requests.request(method, emulator.base_url + path, headers=auth(api_key),
                             json={}, timeout=TIMEOUT)
        assert r.status_code == 405, (method, path)
        assert allow in r.headers["Allow"]
        assert r.json()["error"]["code"] == 405
    assert emulator.tasks_created == 0


# ---------------------------------------------------------------------------- task faults


@pytest.mark.parametrize("prompt", ["nsfw clip", "An NSFW clip", "xnsfwx"])
def test_a_blocked_word_fails_the_task_with_content_policy_violation(
    emulator, api_key, prompt
):
    r = submit(emulator, api_key, prompt=prompt)
    assert r.status_code == 200  # accepted first, refused later like the service
    views = wait_for(emulator, api_key, r.json()["id"])
    done = views[-1]
    assert done["status"] == "failed"
    assert done["progress"] == 0
    assert "results" not in done
    assert done["error"]["code"] == "content_policy_violation"
    assert done["error"]["message"].startswith("Content policy violation.")
    assert all("error" not in v for v in views[:-1])


def test_blocked_words_are_configurable(emulator_factory, api_key):
    emu = emulator_factory(blocked_words=("volcano", "Storm"))
    ids = {p: submit(emu, api_key, prompt=p).json()["id"]
           for p in ("a volcano", "a STORM", "nsfw is not blocked now", "a meadow")}
    outcome = {p: wait_for(emu, api_key, i)[-1] for p, i in ids.items()}
    assert outcome["a volcano"]["error"]["code"] == "content_policy_violation"
    assert outcome["a STORM"]["error"]["code"] == "content_policy_violation"
    assert outcome["nsfw is not blocked now"]["status"] == "completed"
    assert outcome["a meadow"]["status"] == "completed"


def test_fail_rate_one_fails_every_task_with_service_error(emulator_factory, api_key):
    emu = emulator_factory(fail_rate=1.0)
    for _ in range(3):
        done = wait_for(emu, api_key, submit(emu, api_key).json()["id"])[-1]
        assert done["status"] == "failed"
        assert done["error"]["code"] == "service_error"
        assert done["error"]["message"]
        assert "results" not in done


def test_fail_rate_half_fails_some(emulator_factory, api_key):
    emu = emulator_factory(fail_rate=0.5, seed=7, task_seconds=600)
    outcomes = [emu.task(submit(emu, api_key).json()["id"])["outcome"] for _ in range(40)]
    assert set(outcomes) == {"completed", "service_error"}


# ---------------------------------------------------------------------------- rate limits


def test_rpm_answers_429_with_retry_after_and_the_suggestion(emulator_factory, api_key):
    emu = emulator_factory(rpm=2)
    assert submit(emu, api_key).status_code == 200
    assert submit(emu, api_key).status_code == 200
    r = submit(emu, api_key)
    error = assert_envelope(r, 429, "rate_limit_error")
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert error["fallback_suggestion"] == f"retry after {wait} seconds"
    assert emu.tasks_created == 2
    # Per key, and only for submissions.
    assert submit(emu, "another-key").status_code == 200
    assert get_task(emu, api_key, "task-unified-1-abcdefgh").status_code == 404  # GET: no limit


def test_rpm_get_limits_task_queries(emulator_factory, api_key):
    emu = emulator_factory(rpm_get=3)
    task_id = submit(emu, api_key).json()["id"]
    codes = [get_task(emu, api_key, task_id).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = get_task(emu, api_key, task_id)
    assert r.headers["Retry-After"].isdigit()
    assert r.json()["error"]["fallback_suggestion"].startswith("retry after ")
    assert get_task(emu, "other", task_id).status_code == 200


@pytest.mark.slow
def test_rpm_window_slides(api_key):
    # The emulator runs in its own process and its clock is moved over HTTP: nothing in
    # this process (client, urllib3, the engine) has its time changed.
    from emulator_process import EmulatorProcess

    with EmulatorProcess(rpm=1, task_seconds=0.2) as emu:
        assert submit(emu, api_key).status_code == 200
        emu.advance_clock(45)
        r = submit(emu, api_key)
        assert r.status_code == 429
        assert r.headers["Retry-After"] in ("15", "16")  # the real second that passed too
        wait = int(r.headers["Retry-After"])
        assert r.json()["error"]["fallback_suggestion"] == f"retry after {wait} seconds"
        emu.advance_clock(15)
        assert submit(emu, api_key).status_code == 200


@pytest.mark.slow
def test_the_emulator_clock_moves_only_the_service(api_key):
    import time

    from emulator_process import EmulatorProcess

    with EmulatorProcess(task_seconds=0.2) as emu:
        before = time.time()
        assert emu.advance_clock(-3 * 3600) == -3 * 3600
        created = submit(emu, api_key).json()["created"]
        assert before - 3 * 3600 - 5 <= created <= time.time() - 3 * 3600 + 5


# ---------------------------------------------------------------------------- HTTP faults


DOCUMENTED = {
    # status: (type, fallback_suggestion or None, Retry-After header expected)
    400: ("invalid_request_error", None, False),
    401: ("authentication_error", None, False),
    402: ("insufficient_quota_error", "https://evolink.ai/dashboard/billing", False),
    403: ("permission_error", None, False),
    404: ("not_found_error", None, False),
    413: ("request_too_large_error", None, False),
    429: ("rate_limit_error", re.compile(r"retry after \d+ seconds"), True),
    500: ("internal_server_error", "try again later", False),
    502: ("upstream_error", "try again later", False),
    503: ("service_unavailable_error", re.compile(r"retry after \d+ seconds"), True),
}


def check_documented_error(r, status):
    type_, fallback, retry_after = DOCUMENTED[status]
    error = assert_envelope(r, status, type_)
    if fallback is None:
        assert "fallback_suggestion" not in error
    elif isinstance(fallback, str):
        assert error["fallback_suggestion"] == fallback
    else:
        assert fallback.fullmatch(error["fallback_suggestion"])
    if retry_after:
        wait = int(r.headers["Retry-After"])
        assert error["fallback_suggestion"] == f"retry after {wait} seconds"


def send(emu, route, key, session=None):
    """One ordinary, valid request on ``route``; returns the Response."""
    http = session or requests
    if route == POST:
        return submit(emu, key, session=session)
    if route == GET:
        return get_task(emu, key, "task-unified-1-abcdefgh", session)
    if route == B64:
        return http.post(f"{emu.files_url}/api/v1/files/upload/base64",
                         json={"base64_data": base64.b64encode(png(400, 400)).decode()},
                         headers=auth(key), timeout=TIMEOUT)
    if route == STREAM:
        return http.post(f"{emu.files_url}/api/v1/files/upload/stream",
                         files={"file": ("a.png", png(400, 400), "image/png")},
                         headers=auth(key), timeout=TIMEOUT)
    raise AssertionError(route)


def normal_status(route):
    return 404 if route == GET else 200


def test_faults_and_routes_are_the_documented_lists():
    assert set(FAULTS) == {"400", "401", "402", "403", "404", "413", "429", "500", "502",
                           "503", "html502", "drop_before", "drop_after", "garbage"}
    assert set(ROUTES) == {POST, GET, B64, STREAM, MEDIA}


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
@pytest.mark.parametrize("route", [POST, GET])
def test_injected_status_faults_have_the_documented_bodies_once(
    emulator, api_key, route, status
):
    emulator.inject(route, str(status), times=1)
    with requests.Session() as session:
        check_documented_error(send(emulator, route, api_key, session), status)
        # One shot: the next request is ordinary, on the same connection.
        assert send(emulator, route, api_key, session).status_code == normal_status(route)
    assert emulator.tasks_created == (1 if route == POST else 0)


def test_injected_faults_on_the_files_api_use_its_envelope(emulator, api_key):
    for route in (B64, STREAM):
        emulator.inject(route, "503")
        r = send(emulator, route, api_key)
        assert r.status_code == 503
        assert r.headers["Retry-After"].isdigit()
        assert r.json() == {"success": False, "code": 503,
                            "msg": "Service temporarily unavailable"}
        assert send(emulator, route, api_key).status_code == 200
    assert emulator.stats["uploads"] == 2


def test_injected_html502_is_an_html_page(emulator, api_key):
    for route in (POST, GET):
        emulator.inject(route, "html502")
        r = send(emulator, route, api_key)
        assert r.status_code == 502
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.text.lstrip().startswith("<html")
        with pytest.raises(ValueError):
            r.json()
    assert emulator.tasks_created == 0


def test_injected_garbage_is_a_200_that_is_not_json(emulator, api_key):
    for route in (POST, GET):
        emulator.inject(route, "garbage")
        r = send(emulator, route, api_key)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            r.json()
    assert emulator.tasks_created == 0


@pytest.mark.parametrize("route", [POST, GET, B64, STREAM])
def test_injected_drop_before_closes_without_an_answer_and_does_no_work(
    emulator, api_key, route
):
    emulator.inject(route, "drop_before")
    with pytest.raises(requests.ConnectionError):
        send(emulator, route, api_key)
    assert emulator.tasks_created == 0
    assert emulator.stats["uploads"] == 0
    assert emulator.stats["by_route"][route] == 1
    assert send(emulator, route, api_key).status_code == normal_status(route)


def test_injected_drop_after_creates_the_task_but_never_answers(emulator, api_key):
    emulator.inject(POST, "drop_after")
    with pytest.raises(requests.ConnectionError):
        submit(emulator, api_key, prompt="lost answer")
    stats = emulator.stats
    assert stats["tasks_created"] == 1
    assert stats["by_route"][POST] == 1
    assert nonzero(stats["by_status"]) == {}  # nothing was answered
    # The task exists and runs to completion like any other.
    (task_id,) = [t for t in emulator._state.tasks]
    assert emulator.task(task_id)["prompt"] == "lost answer"
    assert wait_for(emulator, api_key, task_id)[-1]["status"] == "completed"


def test_injected_drop_after_on_upload_stores_the_file(emulator, api_key):
    emulator.inject(B64, "drop_after")
    with pytest.raises(requests.ConnectionError):
        send(emulator, B64, api_key)
    assert emulator.stats["uploads"] == 1


def test_injected_slow_delays_then_answers_normally(emulator, api_key):
    emulator.inject(POST, "slow:0.3")
    started = time.monotonic()
    r = submit(emulator, api_key)
    assert time.monotonic() - started >= 0.3  # a lower bound only
    assert r.status_code == 200
    assert emulator.tasks_created == 1


def test_injected_faults_on_media(emulator, api_key):
    url = completed_video_url(emulator, api_key)
    emulator.inject(MEDIA, "503")
    assert requests.get(url, timeout=TIMEOUT).status_code == 503
    emulator.inject(MEDIA, "drop_before")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=TIMEOUT)
    emulator.inject(MEDIA, "404")
    assert requests.get(url, timeout=TIMEOUT).status_code == 404
    assert requests.get(url, timeout=TIMEOUT).content == emulator.video_bytes


def test_injected_429_and_503_with_their_own_retry_after(emulator, api_key):
    emulator.inject(GET, "429:7")
    emulator.inject(POST, "503:12")
    r = send(emulator, GET, api_key)
    check_documented_error(r, 429)
    assert r.headers["Retry-After"] == "7"
    r = send(emulator, POST, api_key)
    check_documented_error(r, 503)
    assert r.headers["Retry-After"] == "12"
    assert emulator.tasks_created == 0


def test_injection_counts_and_order(emulator, api_key):
    emulator.inject(GET, "500", times=2)
    emulator.inject(GET, "503", times=1)
    emulator.inject(GET, "slow:0", times=1)
    codes = [send(emulator, GET, api_key).status_code for _ in range(5)]
    assert codes == [500, 500, 503, 404, 404]
    emulator.inject(GET, "500", times=0)
    assert send(emulator, GET, api_key).status_code == 404


@pytest.mark.parametrize(
    ("route", "fault"),
    [(GET, "418"), (GET, "bogus"), (GET, "slow:"), (GET, "slow:abc"), (GET, "slow:-1"),
     ("GET /v1/task", "500"), ("POST /v1/tasks", "500"), (GET, 500)],
)
def test_unknown_faults_and_routes_are_refused_when_injected(emulator, route, fault):
    with pytest.raises(ValueError):
        emulator.inject(route, fault)
    r = requests.post(f"{emulator.base_url}/_emulator/inject",
                      json={"route": route, "fault": fault}, timeout=TIMEOUT)
    assert r.status_code == 400


def test_error_rate_answers_only_the_configured_statuses(emulator_factory, api_key):
    emu = emulator_factory(error_rate=1.0, error_statuses=(503,))
    for route in (POST, GET):
        check_documented_error(send(emu, route, api_key), 503)
    assert emu.tasks_created == 0
    emu2 = emulator_factory(error_rate=1.0, error_statuses=(500, 502, 503), seed=3)
    seen = set()
    with requests.Session() as session:
        for _ in range(40):
            r = send(emu2, GET, api_key, session)
            check_documented_error(r, r.status_code)
            seen.add(r.status_code)
    assert seen == {500, 502, 503}


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 429])
def test_error_rate_with_any_documented_status(emulator_factory, api_key, status):
    emu = emulator_factory(error_rate=1.0, error_statuses=(status,))
    check_documented_error(send(emu, POST, api_key), status)
    assert emu.tasks_created == 0


def test_error_rate_half_leaves_some_requests_alone(emulator_factory, api_key):
    emu = emulator_factory(error_rate=0.5, seed=11)
    codes = [send(emu, GET, api_key).status_code for _ in range(40)]
    assert 404 in codes
    assert set(codes) - {404} <= {500, 502, 503}
    assert set(codes) - {404}


def test_error_rate_spares_media_links(emulator_factory, api_key):
    emu = emulator_factory()
    url = completed_video_url(emu, api_key)
    emu.configure(error_rate=1.0, drop_rate=1.0)
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_drop_rate_drops_gets_before_and_posts_after_the_work(emulator_factory, api_key):
    emu = emulator_factory(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        get_task(emu, api_key, "task-unified-1-abcdefgh")
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            submit(emu, api_key)
    assert emu.tasks_created == 3  # every dropped POST did create its task
    assert nonzero(emu.stats["by_status"]) == {}
    emu.configure(drop_rate=0.0)
    assert submit(emu, api_key).status_code == 200


def test_slow_rate_delays_every_request(emulator_factory, api_key):
    emu = emulator_factory(slow_rate=1.0, slow_seconds=0.2)
    started = time.monotonic()
    assert send(emu, GET, api_key).status_code == 404
    assert time.monotonic() - started >= 0.2


# ---------------------------------------------------------------------------- determinism


def scripted_run(emu, key, n=30):
    """A fixed sequence of requests; what each one got."""
    out = []
    with requests.Session() as session:
        for i in range(n):
            try:
                r = submit(emu, key, session=session, prompt=f"scene {i}")
            except requests.ConnectionError:
                out.append(("dropped",))
                session.close()
                continue
            if r.status_code == 200:
                task_id = r.json()["id"]
                suffix = ID_RE.match(task_id).group(2)  # the time part differs run to run
                out.append((200, suffix, emu.task(task_id)["outcome"],
                            emu.task(task_id)["duration"]))
            else:
                out.append((r.status_code,))
    return out


def test_the_same_seed_gives_the_same_ids_and_faults(emulator_factory, api_key):
    config = dict(seed=1234, error_rate=0.25, drop_rate=0.15, fail_rate=0.3,
                  task_jitter=0.4, task_seconds=600)
    first = scripted_run(emulator_factory(**config), api_key)
    second = scripted_run(emulator_factory(**config), api_key)
    assert first == second
    kinds = {row[0] for row in first}
    assert {"dropped", 200} <= kinds and kinds & {500, 502, 503}  # the mix is really there
    outcomes = {row[2] for row in first if row[0] == 200}
    assert outcomes == {"completed", "service_error"}
    other = scripted_run(emulator_factory(**{**config, "seed": 4321}), api_key)
    assert other != first


def test_the_same_seed_gives_the_same_id_sequence(emulator_factory, api_key):
    runs = []
    for _ in range(2):
        emu = emulator_factory(seed=99)
        runs.append([ID_RE.match(submit(emu, api_key).json()["id"]).group(2)
                     for _ in range(10)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 10


# ---------------------------------------------------------------------------- stats, control


def test_stats_count_requests_routes_statuses_tasks_and_uploads(emulator, api_key):
    task_id = submit(emulator, api_key).json()["id"]
    submit(emulator, api_key, prompt="")  # 400
    get_task(emulator, api_key, task_id)
    get_task(emulator, api_key, "task-unified-1-abcdefgh")  # 404
    upload_b64(emulator, api_key, png(400, 400))
    upload_stream(emulator, api_key, png(400, 400))
    wait_for(emulator, api_key, task_id)
    polls = emulator.stats["by_route"][GET] - 2
    requests.get(f"{emulator.base_url}/media/results/{task_id}.mp4", timeout=TIMEOUT)
    stats = emulator.stats
    assert stats["tasks_created"] == emulator.tasks_created == 1
    assert stats["uploads"] == 2
    assert nonzero(stats["by_route"]) == {POST: 2, GET: 2 + polls, B64: 1, STREAM: 1, MEDIA: 1}
    assert stats["requests"] == emulator.requests_seen == 7 + polls
    assert nonzero(stats["by_status"]) == {"200": 5 + polls, "400": 1, "404": 1}
    # Requests to no known route are counted too, apart.
    requests.get(f"{emulator.base_url}/nowhere", timeout=TIMEOUT)
    stats = emulator.stats
    assert stats["requests"] == 8 + polls
    assert sum(v for k, v in stats["by_route"].items() if k in ROUTES) == 7 + polls
    assert stats["by_status"]["404"] == 2
    # Over HTTP, the same numbers.
    over_http = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=TIMEOUT).json()
    for name in ("tasks_created", "uploads", "requests", "by_route", "by_status"):
        assert over_http[name] == emulator.stats[name]
    emulator.reset_stats()
    stats = emulator.stats
    assert (stats["tasks_created"], stats["uploads"], stats["requests"]) == (0, 0, 0)
    assert nonzero(stats["by_route"]) == nonzero(stats["by_status"]) == {}


def nonzero(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if v}


def test_control_endpoints_over_http(emulator, api_key):
    base = f"{emulator.base_url}/_emulator"
    # config
    r = requests.post(f"{base}/config", json={"task_seconds": 600, "blocked_words": ["lava"]},
                      timeout=TIMEOUT)
    assert r.status_code == 200
    assert emulator.config.task_seconds == 600
    assert emulator.config.blocked_words == ("lava",)
    assert requests.post(f"{base}/config", json={"no_such_setting": 1},
                         timeout=TIMEOUT).status_code == 400
    assert requests.post(f"{base}/config", data=b"{nope", timeout=TIMEOUT).status_code == 400
    # tasks/{id}
    task_id = submit(emulator, api_key, prompt="lava flows").json()["id"]
    view = requests.get(f"{base}/tasks/{task_id}", timeout=TIMEOUT).json()
    assert view["id"] == task_id
    assert view["status"] == "pending"
    assert view["body"]["prompt"] == "lava flows"
    assert view["outcome"] == "content_policy_violation"
    assert view["duration"] == 600
    assert requests.get(f"{base}/tasks/task-unified-1-nothing0",
                        timeout=TIMEOUT).status_code == 404
    # inject
    r = requests.post(f"{base}/inject", json={"route": GET, "fault": "403", "times": 2},
                      timeout=TIMEOUT)
    assert r.status_code == 200
    assert [get_task(emulator, api_key, task_id).status_code for _ in range(3)] == [403, 403,
                                                                                    200]
    # stats and reset
    stats = requests.get(f"{base}/stats", timeout=TIMEOUT).json()
    assert stats["tasks_created"] == 1
    assert stats["by_status"]["403"] == 2
    assert requests.post(f"{base}/reset_stats", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{base}/stats", timeout=TIMEOUT).json()["requests"] == 0
    # unknown
    assert requests.get(f"{base}/nothing", timeout=TIMEOUT).status_code == 404
    # Control requests are not counted as API requests.
    assert emulator.stats["requests"] == 0


def test_the_control_api_never_shows_keys(emulator_factory, api_key):
    emu = emulator_factory(api_keys=(api_key,), quota_keys=("sk-quota-secret",))
    config = requests.get(f"{emu.base_url}/_emulator/config", timeout=TIMEOUT)
    assert config.status_code == 200
    assert api_key not in config.text and "sk-quota-secret" not in config.text
    task_id = submit(emu, api_key).json()["id"]
    record = requests.get(f"{emu.base_url}/_emulator/tasks/{task_id}", timeout=TIMEOUT)
    assert record.status_code == 200
    assert api_key not in record.text
    assert api_key not in json.dumps(emu.task(task_id))
    assert api_key not in json.dumps(emu.stats)


def test_past_max_tasks_the_oldest_is_forgotten(emulator_factory, api_key):
    emu = emulator_factory(max_tasks=3, task_seconds=600)
    ids = [submit(emu, api_key).json()["id"] for _ in range(5)]
    codes = [get_task(emu, api_key, i).status_code for i in ids]
    assert codes == [404, 404, 200, 200, 200]
    assert emu.tasks_created == 5


def test_configure_changes_a_running_emulator(emulator, api_key):
    emulator.configure(api_keys=("k1",), quota_keys=["k2"])
    assert submit(emulator, api_key).status_code == 401
    assert submit(emulator, "k1").status_code == 200
    assert submit(emulator, "k2").status_code == 401
    emulator.configure(api_keys=())
    assert submit(emulator, "k2").status_code == 402
    with pytest.raises(TypeError):
        emulator.configure(no_such_setting=True)


def test_emulator_lifecycle(api_key):
    emu = Emulator(task_seconds=0.1)
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.files_url == emu.base_url
        assert emu.port == int(emu.base_url.rsplit(":", 1)[1])
        assert submit(emu, api_key).status_code == 200
        url = emu.base_url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/tasks/x", headers=auth(api_key), timeout=TIMEOUT)


def test_a_restart_keeps_tasks_uploads_and_pending_faults(api_key):
    emu = Emulator(task_seconds=600).start()
    try:
        task_id = submit(emu, api_key).json()["id"]
        emu.inject(GET, "503")
        emu.stop()
        assert not emu.running
        emu.start()
        check_documented_error(get_task(emu, api_key, task_id), 503)
        assert get_task(emu, api_key, task_id).json()["id"] == task_id
        assert emu.tasks_created == 1
    finally:
        emu.stop()


def test_stop_closes_open_keep_alive_connections(api_key):
    emu = Emulator(task_seconds=0.1).start()
    url = emu.base_url
    session = requests.Session()
    try:
        assert submit(emu, api_key, session=session).status_code == 200
        emu.stop()
        # The pooled connection is closed by the server: nothing is served any more.
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/v1/tasks/task-unified-1-abcdefgh", headers=auth(api_key),
                        timeout=TIMEOUT)
    finally:
        session.close()
        emu.stop()


# ---------------------------------------------------------------------------- raw HTTP


def raw_exchange(emu, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, rest = data.partition(b"\r\n\r\n")
    match = re.search(rb"Content-Length: (\d+)", head)
    return match is not None and len(rest) >= int(match.group(1))


@pytest.mark.parametrize("length", [b"abc", b"-5", b"1e3"])
def test_a_bad_content_length_is_a_400_not_a_hang(emulator, api_key, length):
    answer = raw_exchange(emulator, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + api_key.encode() +
                          b"\r\nContent-Length: " + length + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in answer
    assert emulator.tasks_created == 0


def test_a_chunked_body_is_read(emulator, api_key):
    def pieces():
        yield b'{"model": "MiniMax-Hailuo-2.3", '
        yield b'"prompt": "sent in chunks"}'

    with requests.Session() as session:
        r = session.post(f"{emulator.base_url}/v1/videos/generations", data=pieces(),
                         headers={**auth(api_key), "Content-Type": "application/json"},
                         timeout=TIMEOUT)
        assert r.request.headers["Transfer-Encoding"] == "chunked"
        assert r.status_code == 200, r.text
        # The connection stayed in step: the next request on it works.
        assert get_task(emulator, api_key, r.json()["id"], session).status_code == 200
    assert emulator.task(r.json()["id"])["prompt"] == "sent in chunks"


def test_a_body_over_the_limit_is_413(emulator, api_key):
    answer = raw_exchange(emulator, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + api_key.encode() +
                          b"\r\nContent-Length: 999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"request_too_large_error" in answer


def test_a_garbage_request_line_gets_an_answer(emulator):
    answer = raw_exchange(emulator, b"HELLO\r\n\r\n")
    assert answer.startswith(b"HTTP/1.")
    assert b" 400 " in answer.split(b"\r\n")[0]


# ---------------------------------------------------------------------------- load


@pytest.mark.slow
def test_holds_a_thousand_tasks(emulator_factory, api_key):
    emu = emulator_factory(task_seconds=0.5)

    def work(n):
        ids = []
        with requests.Session() as session:
            for i in range(n):
                r = submit(emu, api_key, session=session, prompt=f"task {i}")
                assert r.status_code == 200, r.text
                ids.append(r.json()["id"])
        return ids

    with ThreadPoolExecutor(8) as pool:
        ids = [i for chunk in pool.map(work, [125] * 8) for i in chunk]
    assert len(ids) == len(set(ids)) == 1000
    assert emu.tasks_created == 1000
    assert nonzero(emu.stats["by_status"]) == {"200": 1000}

    def read(chunk):
        with requests.Session() as session:
            return [get_task(emu, api_key, i, session).json() for i in chunk]

    # Every one of them can be read back, and all finish.
    deadline = time.monotonic() + 120
    while True:
        with ThreadPoolExecutor(8) as pool:
            views = [v for part in pool.map(read, [ids[k::8] for k in range(8)]) for v in part]
        assert {v["id"] for v in views} == set(ids)
        if all(v["status"] == "completed" for v in views) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert all(v["status"] == "completed" for v in views)


@pytest.mark.slow
def test_two_hundred_concurrent_keep_alive_connections(emulator, api_key):
    task_id = submit(emulator, api_key).json()["id"]
    n = 200
    barrier = threading.Barrier(n, timeout=120)
    results: list = [None] * n
    errors: list = []

    def client(k):
        try:
            with requests.Session() as session:
                first = get_task(emulator, api_key, task_id, session).status_code
                barrier.wait()  # now 200 connections are open at the same time
                rest = [get_task(emulator, api_key, task_id, session).status_code
                        for _ in range(3)]
                results[k] = [first, *rest]
        except Exception as exc:  # reported below
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors[:3]
    assert all(r == [200] * 4 for r in results)
    stats = emulator.stats
    assert stats["by_route"][GET] == 4 * n
    assert stats["by_status"]["200"] == 4 * n + 1
    assert stats["peak_open_connections"] >= n  # they really were all open at once


def test_concurrent_mixed_traffic_keeps_exact_counts(emulator_factory, api_key):
    emu = emulator_factory(rpm=50)
    keys = [f"{api_key}-{k}" for k in range(4)]

    def work(key):
        codes = []
        with requests.Session() as session:
            for _ in range(60):
                codes.append(submit(emu, key, session=session).status_code)
        return codes

    with ThreadPoolExecutor(4) as pool:
        per_key = list(pool.map(work, keys))
    for codes in per_key:
        assert codes.count(200) == 50  # the limit holds per key under concurrency
        assert codes.count(429) == 10
    assert emu.tasks_created == 200
    assert emu.stats["requests"] == 240
