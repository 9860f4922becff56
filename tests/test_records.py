"""The record a settled task leaves in the notebook: everything a reader needs, no kernel.

Tasks run against the emulator over real HTTP; the record is then read as a colleague
would read the saved notebook: as HTML (parsed) and as text.
"""

from __future__ import annotations

import base64
import os
import re
import time
from html.parser import HTMLParser

import pytest
from waiting import eventually

import hailuo_nb
from hailuo_nb._presentation.display import task_bundle
from hailuo_nb._presentation.records import Record, grid_bundle, record_html, record_text

RECORD_BUDGET = 35_000  # bytes of poster + strip as inlined in the notebook, per result


class _Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]


def _jpeg(uri: str) -> bytes:
    assert uri.startswith("data:image/jpeg;base64,")
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    return data


def test_a_finished_video_leaves_a_full_record(client, emulator):
    task = hailuo_nb.generate("A paper boat <b>drifts</b> [Tracking shot]", client=client,
                              wait=True)
    assert task.is_settled and task.stills is not None
    page = _Page(record_html(task))
    words = " ".join(page.text)
    for fact in ("completed", "text-to-video", "MiniMax-Hailuo-2.3", "768p, 6 s", task.id,
                 "A paper boat <b>drifts</b> [Tracking shot]"):
        assert fact in words, fact
    assert not page.all("b") or all("drifts" not in str(a) for a in page.all("b"))
    [video] = page.all("video")
    assert video["src"] == f"hailuo_videos/{task.id}.mp4"  # relative: the server serves it
    assert not os.path.isabs(video["src"]) and "preload" in video and "autoplay" not in video
    _jpeg(video["poster"])
    strip = [img["src"] for img in page.all("img")]
    assert len(strip) == 5 and all(_jpeg(uri) for uri in strip)
    assert len(video["poster"]) + sum(map(len, strip)) <= RECORD_BUDGET
    assert f"hailuo_videos/{task.id}.json" in words  # the sidecar (request, sha256)
    made = time.strftime("%Y-%m-%d", time.localtime(task.created))
    assert made in words and "took" in words
    assert "valid" not in words and "more" not in words.split()  # no claim false tomorrow
    assert str(os.getcwd()) not in record_html(task) + record_text(task)


def test_the_record_is_what_display_repr_and_text_show(client, emulator):
    task = hailuo_nb.generate("a lighthouse [Pan right]", client=client, wait=True)
    bundle = task_bundle(task)
    assert bundle["text/html"] == record_html(task)
    assert bundle["text/plain"] == record_text(task) == repr(Record(task))
    assert "video:" in bundle["text/plain"] and task.id in bundle["text/plain"]


def test_a_failed_task_record_gives_the_providers_reason_and_ours(client, emulator):
    task = hailuo_nb.generate("an nsfw scene [Pan left]", client=client)
    with pytest.raises(hailuo_nb.TaskFailedError):
        task.wait(timeout=30)
    assert task.is_settled
    words = " ".join(_Page(record_html(task)).text)
    code = task.error["code"]
    assert "failed" in words and code in words and task.error["message"] in words
    assert "rephrase" in words or "change" in words  # what to do, in our words
    assert not _Page(record_html(task)).all("video")


def test_an_undecodable_video_gets_a_record_that_says_so(emulator_factory, api_key, tmp_path):
    broken = tmp_path / "broken.mp4"  # an MP4 header, then nothing a decoder can use
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + b"\x17" * 4000)
    emu = emulator_factory(video_path=str(broken))
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        task = hailuo_nb.generate("x [Pan left]", client=client, wait=True)
    assert task.is_settled and task.stills is None
    assert "no preview" in record_text(task) and "cannot read video frames" in task.stills_error


def test_without_download_the_record_gives_the_link_and_its_absolute_expiry(client, emulator):
    task = hailuo_nb.generate("a quiet pond [Static shot]", client=client, download=False,
                              wait=True)
    text = record_text(task)
    assert "link expires" in text
    assert re.search(r"link expires:\s+\d{4}-\d\d-\d\d \d\d:\d\d", text)
    [video] = _Page(record_html(task)).all("video")
    assert video["src"] == task.url


def test_a_gallery_of_settled_tasks_is_a_labelled_grid(client, emulator):
    tasks = hailuo_nb.generate_many(["a cat [Pan left]", "an nsfw dog [Pan right]"],
                                    client=client, wait=True, timeout=60)
    bundle = grid_bundle(tasks, "sweep")
    assert bundle["text/plain"].startswith(
        "sweep: 2 tasks: 1 done · 0 running · 1 failed · all done")
    page = _Page(bundle["text/html"])
    assert len(page.all("video")) == 1 and "hailuo-records" in bundle["text/html"]
    # Each take is named by what varies across the sweep, not by its id.
    assert "camera=Pan left" in bundle["text/plain"] and "camera=Pan right" in bundle["text/plain"]
    assert bundle["text/plain"].splitlines()[1].startswith("  camera=Pan left")


def test_a_sweeps_grid_is_compact_and_keeps_every_record_one_click_away(client, emulator):
    """Cards carry one small frame and the words, not a poster and a strip: the grid of a
    big sweep stays light in the saved notebook."""
    tasks = hailuo_nb.generate_many([f"take {i} [Zoom in]" for i in range(6)],
                                    client=client, wait=True, timeout=60)
    eventually(lambda: all(t.analysis_state == "done" for t in tasks), "the camera checks",
               guard=300)  # a low-priority thread: slow on a busy machine, never stuck
    one = record_html(tasks[0])
    page = grid_bundle(tasks)["text/html"]
    assert page.count('class="hailuo-card hailuo-record"') == 6
    assert "hailuo-strip" not in page  # no strips in a card
    assert len(page) / 6 < len(one) / 2  # a card weighs less than half a full record
    assert page.count("<details>") == 6 and tasks[3].id in page  # the record, one click away
    assert "Zoom in: " in page  # the camera verdict chip


def test_a_report_is_one_page_with_its_videos_beside_it(client, emulator, tmp_path):
    import hashlib

    done = hailuo_nb.generate("a heron lands [Push in]", client=client, wait=True)
    failed = hailuo_nb.generate("an nsfw heron [Pan left]", client=client)
    with pytest.raises(hailuo_nb.TaskFailedError):
        failed.wait(timeout=30)
    page_path = hailuo_nb.report([done, failed], tmp_path / "out" / "paper.html")
    assert page_path == tmp_path / "out" / "paper.html"
    raw = page_path.read_text(encoding="utf-8")
    page = _Page(raw)
    [video] = page.all("video")
    assert video["src"] == f"paper_files/{done.id}.mp4"  # relative to the page
    assert f"paper_files/{done.id}.json" in " ".join(page.text)  # the sidecar travels too
    copy = tmp_path / "out" / "paper_files" / f"{done.id}.mp4"
    assert copy.read_bytes() == emulator.video_bytes
    words = " ".join(page.text)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() in words
    assert "a heron lands [Push in]" in words and failed.error["code"] in words
    assert "2 tasks: 1 done · 0 running · 1 failed · all done" in words
    assert str(tmp_path) not in raw and "data:video" not in raw


def test_a_report_after_a_restart_comes_from_the_history(client, emulator, tmp_path):
    from hailuo_nb._engine import journal
    made = hailuo_nb.generate("a red kite [Tilt up]", client=client, wait=True)
    journal.unregister()  # as after a kernel restart: only the history knows it
    page = hailuo_nb.report(path=tmp_path / "r.html", limit=5)
    parsed = _Page(page.read_text(encoding="utf-8"))
    assert made.id in " ".join(parsed.text)
    [video] = parsed.all("video")
    assert _jpeg(video["poster"])  # the stills were read again from the saved file


def test_a_report_refuses_a_path_that_is_not_html_before_writing(tmp_path):
    with pytest.raises(hailuo_nb.ValidationError, match=r"\.html"):
        hailuo_nb.report([], tmp_path / "report.pdf")
    assert list(tmp_path.iterdir()) == []
