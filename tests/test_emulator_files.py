"""The emulator's files API beyond uploads: list, quota, delete and the enforced file quota.

Real HTTP with ``requests`` against an emulator on a free port; every answer is in the
files API's own envelope ``{"success", "code", "msg", "data"}``.
"""

from __future__ import annotations

import argparse
import base64
import time

import pytest
import requests
from imagefactory import jpeg, png

from hailuo_nb.emulator import Emulator
from hailuo_nb.emulator.command import add_emulator_arguments, emulator_config

TIMEOUT = 10
FILE_FIELDS = {"file_id", "file_name", "file_url", "download_url", "mime_type", "file_size",
               "upload_time", "expires_at"}


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def upload(emu, key, data: bytes | None = None, name: str = "image.png"):
    return requests.post(f"{emu.files_url}/api/v1/files/upload/stream",
                         files={"file": (name, data or png(64, 48), "image/png")},
                         headers=auth(key), timeout=TIMEOUT)


def upload_b64(emu, key, data: bytes):
    return requests.post(f"{emu.files_url}/api/v1/files/upload/base64",
                         json={"base64_data": base64.b64encode(data).decode()},
                         headers=auth(key), timeout=TIMEOUT)


def uploaded(emu, key, **kwargs) -> dict:
    r = upload(emu, key, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def list_files(emu, key, headers=None, **params):
    return requests.get(f"{emu.files_url}/api/v1/files/list", params=params,
                        headers=auth(key) if headers is None else headers, timeout=TIMEOUT)


def quota(emu, key) -> dict:
    r = requests.get(f"{emu.files_url}/api/v1/files/quota", headers=auth(key), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["success"], answer["code"], answer["msg"]) == (True, 200, "success")
    return answer["data"]


def delete(emu, key, file_id, headers=None):
    return requests.delete(f"{emu.files_url}/api/v1/files/{file_id}",
                           headers=auth(key) if headers is None else headers, timeout=TIMEOUT)


def ok_data(r) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    answer = r.json()
    assert set(answer) == {"success", "code", "msg", "data"}
    assert (answer["success"], answer["code"], answer["msg"]) == (True, 200, "success")
    return answer["data"]


def assert_files_error(r, status, code=None) -> str:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    answer = r.json()
    assert set(answer) == {"success", "code", "msg"}, answer
    assert answer["success"] is False
    assert answer["code"] == (code or status)
    assert isinstance(answer["msg"], str) and answer["msg"]
    return answer["msg"]


# ---------------------------------------------------------------------------- list


def test_the_list_shows_the_uploads_newest_first_as_the_upload_answered_them(
        emulator, api_key):
    answers = [uploaded(emulator, api_key, name=f"shot{i}.png") for i in range(3)]
    page = ok_data(list_files(emulator, api_key))
    assert set(page) == {"files", "total", "page", "pageSize"}
    assert (page["total"], page["page"], page["pageSize"]) == (3, 1, 20)
    assert page["files"] == answers[::-1]  # the same objects, newest first
    for info in page["files"]:
        assert set(info) == FILE_FIELDS
    assert [f["file_name"] for f in page["files"]] == ["shot2.png", "shot1.png", "shot0.png"]


def test_an_empty_account_lists_nothing(emulator, api_key):
    assert ok_data(list_files(emulator, api_key)) == {"files": [], "total": 0, "page": 1,
                                                       "pageSize": 20}


def test_the_list_is_paginated(emulator, api_key):
    ids = [uploaded(emulator, api_key)["file_id"] for _ in range(3)][::-1]  # newest first
    pages = [ok_data(list_files(emulator, api_key, page=p, pageSize=2)) for p in (1, 2, 3)]
    assert [[f["file_id"] for f in page["files"]] for page in pages] == [ids[:2], ids[2:], []]
    assert [(page["total"], page["page"], page["pageSize"]) for page in pages] == [
        (3, 1, 2), (3, 2, 2), (3, 3, 2)]
    one = ok_data(list_files(emulator, api_key, page=2, pageSize=1))
    assert [f["file_id"] for f in one["files"]] == [ids[1]]
    everything = ok_data(list_files(emulator, api_key, pageSize=100))
    assert [f["file_id"] for f in everything["files"]] == ids


@pytest.mark.parametrize("params", [
    {"page": 0}, {"page": -1}, {"page": "x"}, {"page": "1.5"}, {"pageSize": 0},
    {"pageSize": 101}, {"pageSize": "many"}, {"pageSize": -5}, {"page": 1, "pageSize": 1000},
])
def test_bad_page_parameters_are_400_in_the_files_envelope(emulator, api_key, params):
    uploaded(emulator, api_key)
    message = assert_files_error(list_files(emulator, api_key, **params), 400)
    assert ("pageSize" if "pageSize" in message else "page") in message


def test_blank_page_parameters_take_the_defaults(emulator, api_key):
    r = requests.get(f"{emulator.files_url}/api/v1/files/list?page=&pageSize=",
                     headers=auth(api_key), timeout=TIMEOUT)
    data = ok_data(r)
    assert (data["page"], data["pageSize"]) == (1, 20)


# ---------------------------------------------------------------------------- quota


def test_the_quota_counts_live_files(emulator, api_key):
    assert quota(emulator, api_key) == {"used": 0, "limit": 100, "remaining": 100}
    for _ in range(3):
        uploaded(emulator, api_key)
    assert quota(emulator, api_key) == {"used": 3, "limit": 100, "remaining": 97}


def test_the_quota_limit_follows_max_files(emulator_factory, api_key):
    emu = emulator_factory(max_files=5)
    uploaded(emu, api_key)
    assert quota(emu, api_key) == {"used": 1, "limit": 5, "remaining": 4}
    emu.configure(max_files=7)
    assert quota(emu, api_key) == {"used": 1, "limit": 7, "remaining": 6}


# ---------------------------------------------------------------------------- delete


def test_delete_removes_the_file_from_the_list_the_quota_and_its_link(emulator, api_key):
    first, second, third = (uploaded(emulator, api_key) for _ in range(3))
    assert requests.get(second["file_url"], timeout=TIMEOUT).status_code == 200
    assert ok_data(delete(emulator, api_key, second["file_id"])) == {
        "file_id": second["file_id"]}
    page = ok_data(list_files(emulator, api_key))
    assert page["total"] == 2
    assert [f["file_id"] for f in page["files"]] == [third["file_id"], first["file_id"]]
    assert quota(emulator, api_key) == {"used": 2, "limit": 100, "remaining": 98}
    for url in (second["file_url"], second["download_url"]):
        gone = requests.get(url, timeout=TIMEOUT)
        assert gone.status_code == 404
        assert requests.head(url, timeout=TIMEOUT).status_code == 404
    assert requests.get(first["file_url"], timeout=TIMEOUT).status_code == 200
    # Deleting it again: it is not there any more.
    assert_files_error(delete(emulator, api_key, second["file_id"]), 404)
    stats = emulator.stats
    assert (stats["uploads"], stats["files_deleted"]) == (3, 1)
    assert stats["by_route"]["DELETE /api/v1/files"] == 2


def test_a_deleted_upload_can_no_longer_start_a_task(emulator, api_key):
    info = uploaded(emulator, api_key, data=jpeg(640, 480))
    ok_data(delete(emulator, api_key, info["file_id"]))
    r = requests.post(f"{emulator.base_url}/v1/videos/generations", headers=auth(api_key),
                      json={"model": "MiniMax-Hailuo-2.3", "prompt": "",
                            "image_urls": [info["file_url"]]}, timeout=TIMEOUT)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "image_urls"
    assert emulator.tasks_created == 0


@pytest.mark.parametrize("file_id", ["file-1-nothing0000", "nope", "x%20y", "list%2Fx"])
def test_deleting_an_unknown_file_is_404_in_the_files_envelope(emulator, api_key, file_id):
    uploaded(emulator, api_key)
    assert_files_error(delete(emulator, api_key, file_id), 404)
    assert quota(emulator, api_key)["used"] == 1
    assert emulator.stats["files_deleted"] == 0


# ---------------------------------------------------------------------------- enforcement


def test_an_upload_over_max_files_is_refused_with_40003_and_nothing_is_stored(
        emulator_factory, api_key):
    emu = emulator_factory(max_files=2)
    kept = [uploaded(emu, api_key) for _ in range(2)]
    for r in (upload(emu, api_key), upload_b64(emu, api_key, png(32, 32))):
        assert r.status_code == 400, r.text
        assert r.json() == {"success": False, "code": 40003,
                            "msg": "File quota exceeded: delete files first (2 of 2 used)"}
    assert emu.stats["uploads"] == 2
    page = ok_data(list_files(emu, api_key))
    assert page["total"] == 2
    assert {f["file_id"] for f in page["files"]} == {f["file_id"] for f in kept}
    assert quota(emu, api_key) == {"used": 2, "limit": 2, "remaining": 0}
    # Deleting one makes room again.
    ok_data(delete(emu, api_key, kept[0]["file_id"]))
    assert quota(emu, api_key) == {"used": 1, "limit": 2, "remaining": 1}
    uploaded(emu, api_key)
    assert emu.stats["uploads"] == 3
    assert upload(emu, api_key).json()["code"] == 40003


def test_max_files_zero_refuses_every_upload(emulator_factory, api_key):
    emu = emulator_factory(max_files=0)
    r = upload(emu, api_key)
    assert r.json() == {"success": False, "code": 40003,
                        "msg": "File quota exceeded: delete files first (0 of 0 used)"}
    assert quota(emu, api_key) == {"used": 0, "limit": 0, "remaining": 0}


def test_expired_files_are_not_listed_and_free_the_quota(emulator_factory, api_key):
    emu = emulator_factory(max_files=1, upload_ttl=0.0)
    info = uploaded(emu, api_key)
    deadline = time.monotonic() + 10
    while requests.get(info["file_url"], timeout=TIMEOUT).status_code != 404:
        assert time.monotonic() < deadline, "the upload never expired"
        time.sleep(0.02)
    assert ok_data(list_files(emu, api_key))["total"] == 0
    assert quota(emu, api_key)["used"] == 0
    assert_files_error(delete(emu, api_key, info["file_id"]), 404)
    emu.configure(upload_ttl=3600)
    uploaded(emu, api_key)
    assert quota(emu, api_key) == {"used": 1, "limit": 1, "remaining": 0}


# ---------------------------------------------------------------------------- auth, routes


def test_list_quota_and_delete_need_the_key(emulator_factory, api_key):
    emu = emulator_factory(api_keys=(api_key,))
    info = uploaded(emu, api_key)
    for headers in ({}, auth("wrong"), {"Authorization": "Basic abc"}):
        assert_files_error(list_files(emu, api_key, headers=headers), 401)
        assert_files_error(requests.get(f"{emu.files_url}/api/v1/files/quota",
                                        headers=headers, timeout=TIMEOUT), 401)
        assert_files_error(delete(emu, api_key, info["file_id"], headers=headers), 401)
    assert requests.get(info["file_url"], timeout=TIMEOUT).status_code == 200
    assert quota(emu, api_key)["used"] == 1
    assert emu.stats["files_deleted"] == 0


def test_wrong_methods_on_the_new_paths_are_405(emulator, api_key):
    base = emulator.files_url
    for method, path, allow in (("POST", "/api/v1/files/list", "GET"),
                                ("DELETE", "/api/v1/files/quota", "GET"),
                                ("GET", "/api/v1/files/file-1-abc", "DELETE")):
        r = requests.request(method, base + path, headers=auth(api_key), timeout=TIMEOUT)
        assert r.status_code == 405, (method, path)
        assert allow in r.headers["Allow"]
    for method, path in (("POST", "/api/v1/files/upload/url"),
                         ("DELETE", "/api/v1/files/upload"),
                         ("DELETE", "/api/v1/files/a/b")):
        r = requests.request(method, base + path, headers=auth(api_key), timeout=TIMEOUT)
        assert r.status_code == 404, (method, path)


def test_injected_random_errors_reach_the_new_routes_in_the_files_envelope(
        emulator_factory, api_key):
    emu = emulator_factory(error_rate=1.0, error_statuses=(503,))
    r = list_files(emu, api_key)
    assert r.status_code == 503
    assert r.json() == {"success": False, "code": 503, "msg": "Service temporarily unavailable"}


# ---------------------------------------------------------------------------- settings


def test_max_files_setting_and_cli_flag():
    parser = add_emulator_arguments(argparse.ArgumentParser())
    assert emulator_config(parser.parse_args([]))["max_files"] == 100
    assert emulator_config(parser.parse_args(["--max-files", "7"]))["max_files"] == 7
    assert Emulator().config.max_files == 100
    assert Emulator(max_files="3").config.max_files == 3
    for bad in (-1, True, "x"):
        with pytest.raises((TypeError, ValueError)):
            Emulator(max_files=bad)


def test_max_files_over_the_control_api(emulator, api_key):
    r = requests.post(f"{emulator.base_url}/_emulator/config", json={"max_files": 1},
                      timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json()["config"]["max_files"] == 1
    assert requests.post(f"{emulator.base_url}/_emulator/config", json={"max_files": -3},
                         timeout=TIMEOUT).status_code == 400
    uploaded(emulator, api_key)
    assert upload(emulator, api_key).json()["code"] == 40003
