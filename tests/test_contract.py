"""The emulator against the contract: the two OpenAPI documents, validated with openapi-core.

The documents are used exactly as shipped in ``hailuo_nb/emulator/spec/`` (their
``servers`` entry is https://api.evolink.ai): each request really goes to the emulator on
127.0.0.1, and the copy handed to openapi-core carries the production host instead.

Covered: every documented status code of both operations, provoked for real or with an
injected fault, validated against its response schema and compared with the documented
example; the request bodies the emulator accepts all satisfy the request schema, and every
body the schema refuses is refused by the emulator (a property test).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagefactory import png
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

import hailuo_nb.emulator
from hailuo_nb.emulator import Emulator

SPEC_DIR = Path(hailuo_nb.emulator.__file__).parent / "spec"
SHARED = Path("/work/shared/api")
VIDEO_SPEC = "video-generations.openapi.yaml"
TASK_SPEC = "task-detail.openapi.yaml"
MODEL = "MiniMax-Hailuo-2.3"
POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"
TIMEOUT = 30


def load_yaml(name: str) -> dict:
    return yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def video_api() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_DIR / VIDEO_SPEC))


@pytest.fixture(scope="module")
def task_api() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_DIR / TASK_SPEC))


def production_url(url: str) -> str:
    """The same path and query on the documented server."""
    server = urlsplit(load_yaml(VIDEO_SPEC)["servers"][0]["url"])
    parts = urlsplit(url)
    return urlunsplit((server.scheme, server.netloc, parts.path, parts.query, ""))


def openapi_request(response: requests.Response) -> RequestsOpenAPIRequest:
    prepared = response.request.copy()
    prepared.url = production_url(prepared.url)
    return RequestsOpenAPIRequest(prepared)


def check_response(api: OpenAPI, response: requests.Response) -> None:
    """The answer matches the documented schema for its status (raises otherwise)."""
    api.validate_response(openapi_request(response), RequestsOpenAPIResponse(response))


def request_is_valid(api: OpenAPI, response: requests.Response) -> bool:
    try:
        api.validate_request(openapi_request(response))
    except Exception:  # openapi-core raises one of several validation errors
        return False
    return True


def documented_statuses(name: str, path: str, method: str) -> list[int]:
    return sorted(int(s) for s in load_yaml(name)["paths"][path][method]["responses"])


def documented_example(status: int) -> dict | None:
    responses = load_yaml(TASK_SPEC)["paths"]["/v1/tasks/{task_id}"]["get"]["responses"]
    content = responses[str(status)]["content"]["application/json"]
    return content.get("example")


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def post(emu, data, key="sk-contract", headers=None):
    return requests.post(f"{emu.base_url}/v1/videos/generations", json=data,
                         headers=auth(key) if headers is None else headers, timeout=TIMEOUT)


def get(emu, task_id, key="sk-contract", headers=None):
    return requests.get(f"{emu.base_url}/v1/tasks/{task_id}",
                        headers=auth(key) if headers is None else headers, timeout=TIMEOUT)


def minimal(**fields) -> dict:
    return {"model": MODEL, "prompt": "A lighthouse in a storm [Push in]", **fields}


# ---------------------------------------------------------------------------- the documents


@pytest.mark.parametrize("name", [VIDEO_SPEC, TASK_SPEC])
def test_the_packaged_spec_is_the_shared_contract(name):
    if not (SHARED / name).exists():
        pytest.skip("the shared contract folder is not on this machine")
    assert (SPEC_DIR / name).read_bytes() == (SHARED / name).read_bytes()


def test_the_documented_statuses_are_the_ones_covered_here():
    assert documented_statuses(VIDEO_SPEC, "/v1/videos/generations", "post") == [
        200, 400, 401, 402]
    assert documented_statuses(TASK_SPEC, "/v1/tasks/{task_id}", "get") == [
        200, 400, 401, 402, 403, 404, 429, 500, 502, 503]


def test_the_production_host_is_the_documented_server():
    assert production_url("http://127.0.0.1:1234/v1/tasks/x?a=1") == (
        "https://api.evolink.ai/v1/tasks/x?a=1")


# ---------------------------------------------------------------------------- POST


ACCEPTED = [
    minimal(),
    load_yaml(VIDEO_SPEC)["paths"]["/v1/videos/generations"]["post"]["requestBody"][
        "content"]["application/json"]["examples"]["text_to_video"]["value"],
    minimal(prompt="p" * 2000),
    minimal(quality="768p", duration=10),
    minimal(quality="1080p", duration=6),
    minimal(quality="1080p"),
    minimal(duration=10),
    minimal(model_params={"prompt_optimizer": False, "fast_pretreatment": True}),
    minimal(model_params={}),
    minimal(image_urls=[]),
    minimal(prompt="", image_urls=["https://example.com/image.jpg"]),
    minimal(image_urls=["http://cdn.example.org/a.webp"], quality="1080p"),
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_post_200_for_bodies_the_schema_accepts(emulator, video_api, data):
    r = post(emulator, data)
    assert r.status_code == 200, r.text
    assert request_is_valid(video_api, r)  # what it accepts, the contract allows
    check_response(video_api, r)
    assert r.json()["status"] == "pending"


def test_post_200_for_image_to_video_with_an_own_upload(emulator, video_api):
    up = requests.post(f"{emulator.files_url}/api/v1/files/upload/base64",
                       json={"base64_data": __import__("base64").b64encode(
                           png(1280, 720)).decode()},
                       headers=auth("sk-contract"), timeout=TIMEOUT)
    assert up.status_code == 200
    r = post(emulator, minimal(prompt="", image_urls=[up.json()["data"]["file_url"]]))
    assert r.status_code == 200, r.text
    assert request_is_valid(video_api, r)
    check_response(video_api, r)


REFUSED = [
    ({"prompt": "no model"}, "model"),
    (minimal(model="gpt-4o"), "model"),
    ({"model": MODEL}, "prompt"),
    (minimal(prompt="p" * 2001), "prompt"),
    (minimal(prompt=7), "prompt"),
    (minimal(prompt=""), "prompt"),
    (minimal(image_urls=["https://a.example/1.png", "https://a.example/2.png"]), "image_urls"),
    (minimal(image_urls=["ftp://a.example/1.png"]), "image_urls"),
    (minimal(image_urls="https://a.example/1.png"), "image_urls"),
    (minimal(quality="4k"), "quality"),
    (minimal(duration="6"), "duration"),
    (minimal(duration=True), "duration"),
    (minimal(duration=8), "duration"),
    (minimal(quality="1080p", duration=10), "duration"),
    (minimal(model_params="x"), "model_params"),
    (minimal(model_params={"prompt_optimizer": "no"}), "model_params.prompt_optimizer"),
    (minimal(model_params={"temperature": 1}), "model_params.temperature"),
    (minimal(resolution="768p"), "resolution"),
]


@pytest.mark.parametrize(("data", "param"), REFUSED)
def test_post_400_has_the_documented_error_shape(emulator, video_api, data, param):
    r = post(emulator, data)
    assert r.status_code == 400, r.text
    check_response(video_api, r)
    error = r.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (400, "invalid_request_error",
                                                               param)
    assert emulator.tasks_created == 0


@pytest.mark.parametrize("headers", [{}, auth("not-the-key"), {"Authorization": "Token x"}])
def test_post_401(emulator_factory, video_api, headers):
    emu = emulator_factory(api_keys=("sk-contract",))
    r = post(emu, minimal(), headers=headers)
    assert r.status_code == 401
    check_response(video_api, r)
    assert r.json()["error"]["type"] == "authentication_error"


def test_post_402(emulator_factory, video_api):
    emu = emulator_factory(quota_keys=("sk-contract",))
    r = post(emu, minimal())
    assert r.status_code == 402
    check_response(video_api, r)
    error = r.json()["error"]
    assert error["type"] == "insufficient_quota_error"
    assert error["fallback_suggestion"] == "https://evolink.ai/dashboard/billing"


@pytest.mark.parametrize("status", [400, 401, 402])
def test_post_injected_documented_statuses(emulator, video_api, status):
    emulator.inject(POST, str(status))
    r = post(emulator, minimal())
    assert r.status_code == status
    assert request_is_valid(video_api, r)
    check_response(video_api, r)


def test_an_undocumented_answer_would_be_caught(emulator, video_api, task_api):
    """The checks here can fail: a garbage 200 and an HTML 502 do not pass them."""
    emulator.inject(POST, "garbage")
    with pytest.raises(Exception):  # noqa: B017 - any openapi-core validation error
        check_response(video_api, post(emulator, minimal()))
    emulator.inject(GET, "html502")
    with pytest.raises(Exception):  # noqa: B017
        check_response(task_api, get(emulator, "task-unified-1-abcdefgh"))


# ---------------------------------------------------------------------------- GET 200


def wait_until(emu, task_id, status, limit=60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = get(emu, task_id)
        assert r.status_code == 200
        if r.json()["status"] == status:
            return r
        time.sleep(0.03)
    raise AssertionError(f"{task_id} never became {status}")


@pytest.mark.slow
def test_get_200_in_every_state_matches_the_schema(emulator_factory, task_api):
    emu = emulator_factory(task_seconds=2.0)
    task_id = post(emu, minimal()).json()["id"]
    seen = {}
    for status in ("processing", "completed"):
        r = wait_until(emu, task_id, status)
        check_response(task_api, r)
        seen[status] = r.json()
    slow = emulator_factory(task_seconds=600)
    r = get(slow, post(slow, minimal()).json()["id"])
    check_response(task_api, r)
    seen["pending"] = r.json()
    fast = emulator_factory(task_seconds=0.1)
    r = wait_until(fast, post(fast, minimal(prompt="nsfw")).json()["id"], "failed")
    check_response(task_api, r)
    seen["failed"] = r.json()
    for status, view in seen.items():
        assert view["status"] == status
        assert view["object"] == "video.generation.task"
        assert view["type"] == "video"
        assert 0 <= view["progress"] <= 100
        assert isinstance(view["task_info"]["can_cancel"], bool)
    assert seen["completed"]["results"][0].startswith("http")
    assert seen["failed"]["error"]["code"] == "content_policy_violation"
    assert request_is_valid(task_api, r)


# ---------------------------------------------------------------------------- GET errors


def provoke_400(factory):
    return get(factory(), "bad%20id")


def provoke_401(factory):
    return get(factory(api_keys=("sk-contract",)), "task-unified-1-abcdefgh", key="wrong")


def provoke_402(factory):
    return get(factory(quota_keys=("sk-contract",)), "task-unified-1-abcdefgh")


def provoke_404(factory):
    return get(factory(), "task-unified-1-abcdefgh")


def provoke_429(factory):
    emu = factory(rpm_get=1)
    get(emu, "task-unified-1-abcdefgh")
    return get(emu, "task-unified-1-abcdefgh")


def provoke_by_error_rate(status):
    def provoke(factory):
        return get(factory(error_rate=1.0, error_statuses=(status,)), "task-unified-1-abcdefgh")

    return provoke


def provoke_by_injection(status):
    def provoke(factory):
        emu = factory()
        emu.inject(GET, str(status))
        return get(emu, "task-unified-1-abcdefgh")

    return provoke


# Each documented status, provoked the way it happens (where the emulator can) and injected.
PROVOKE = {
    400: [provoke_400, provoke_by_injection(400)],
    401: [provoke_401, provoke_by_injection(401)],
    402: [provoke_402, provoke_by_injection(402)],
    403: [provoke_by_injection(403)],
    404: [provoke_404, provoke_by_injection(404)],
    429: [provoke_429, provoke_by_injection(429)],
    500: [provoke_by_error_rate(500), provoke_by_injection(500)],
    502: [provoke_by_error_rate(502), provoke_by_injection(502)],
    503: [provoke_by_error_rate(503), provoke_by_injection(503)],
}
CASES = [(status, k) for status in sorted(PROVOKE) for k in range(len(PROVOKE[status]))]


def test_every_documented_error_status_of_get_is_provoked():
    documented = documented_statuses(TASK_SPEC, "/v1/tasks/{task_id}", "get")
    assert sorted(PROVOKE) == [s for s in documented if s != 200]


@pytest.mark.parametrize(("status", "way"), CASES)
def test_get_error_matches_schema_and_documented_example(emulator_factory, task_api,
                                                         status, way):
    r = PROVOKE[status][way](emulator_factory)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    check_response(task_api, r)
    error = r.json()["error"]
    example = documented_example(status)["error"]
    assert error["code"] == example["code"] == status
    assert error["type"] == example["type"]
    assert error["message"] == example["message"] or status == 401
    if "param" in example:
        assert error["param"] == example["param"]
    if "fallback_suggestion" in example:
        wanted = example["fallback_suggestion"]
        if wanted.startswith("retry after "):
            assert re.fullmatch(r"retry after \d+ seconds", error["fallback_suggestion"])
            assert error["fallback_suggestion"] == (
                f"retry after {r.headers['Retry-After']} seconds")
        else:
            assert error["fallback_suggestion"] == wanted
    else:
        assert "fallback_suggestion" not in error


def test_401_for_a_wrong_key_has_the_documented_message(emulator_factory, task_api):
    r = provoke_401(emulator_factory)
    assert r.json()["error"]["message"] == documented_example(401)["error"]["message"]


# ---------------------------------------------------------------------------- property


OPTIONAL = object()
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from([MODEL, "MiniMax-Hailuo-02", "", 1, None]),
        "prompt": st.one_of(st.text(max_size=30), st.sampled_from(["p" * 2000, "p" * 2001]),
                            st.integers(), st.none()),
        "image_urls": st.one_of(
            st.lists(st.sampled_from(["https://example.com/a.png", "http://x.org/b.jpg",
                                      "ftp://x.org/c.png", "not a url", "", 5]), max_size=2),
            st.text(max_size=5), st.none()),
        "quality": st.sampled_from(["768p", "1080p", "720p", "", 768, None, True]),
        "duration": st.sampled_from([6, 10, 8, 0, -6, "6", "10", True, False, None, 6.5]),
        "model_params": st.one_of(
            st.dictionaries(st.sampled_from(["prompt_optimizer", "fast_pretreatment", "seed"]),
                            st.sampled_from([True, False, 1, "yes", None]), max_size=3),
            st.sampled_from([[], "x", None, 3])),
        "aspect_ratio": st.just("16:9"),
    },
)


@pytest.mark.slow
def test_whatever_the_schema_refuses_the_emulator_refuses(video_api):
    with Emulator(task_seconds=600, seed=0) as emu:
        session = requests.Session()

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(bodies)
        def check(data):
            r = session.post(f"{emu.base_url}/v1/videos/generations", json=data,
                             headers=auth("sk-property"), timeout=TIMEOUT)
            assert r.status_code in (200, 400), r.text
            check_response(video_api, r)
            if not request_is_valid(video_api, r):
                assert r.status_code == 400, data
            if r.status_code == 400:
                error = r.json()["error"]
                assert error["type"] == "invalid_request_error"
                assert error.get("param"), error
            else:
                assert emu.task(r.json()["id"])["body"] == data

        try:
            check()
        finally:
            session.close()
