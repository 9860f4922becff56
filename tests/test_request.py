"""GenerationRequest: every refusal before the network, and exact request bodies."""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import imagefactory as factory

from hailuo_nb.errors import ValidationError
from hailuo_nb.request import GenerationRequest

MODEL = "MiniMax-Hailuo-2.3"
URL = "https://example.com/cat.png"


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and text.splitlines() == [text], f"message is not one line: {text!r}"
    return text


@functools.cache
def _image_files() -> dict[str, bytes]:
    return {
        "ok.png": factory.png(640, 480),
        "ok.jpg": factory.jpeg(1280, 720),
        "ok.webp": factory.webp(720, 1280),
        "anim.gif": factory.gif(640, 480),
        "text.png": b"this is not an image at all\n",
        "huge.png": factory.png(640, 480, size=20 * 1024 * 1024 + 1),
        "wide.png": factory.png(1000, 300),
        "tall.jpg": factory.jpeg(400, 1200),
        "small.png": factory.png(300, 400),
        "empty.png": b"",
    }


@pytest.fixture
def images(tmp_path):
    """A folder of local images, good and bad, by name."""
    for name, data in _image_files().items():
        if name == "huge.png":
            continue  # 20 MB: written only by the test that needs it
        factory.write(tmp_path / name, data)
    (tmp_path / "folder.png").mkdir()
    return tmp_path


# ---------------------------------------------------------------------------- refusals

# (kwargs, words that must appear in the message, field). Image names are resolved
# against the `images` fixture folder, which is also the working directory.
BAD = [
    # prompts
    (dict(prompt=""), ["Text-to-video needs a prompt", "describe the video", "image"], "prompt"),
    (dict(prompt="   \n\t "), ["Text-to-video needs a prompt"], "prompt"),
    (dict(prompt=None), ["Text-to-video needs a prompt"], "prompt"),
    (dict(prompt="x" * 2001), ["2001 characters", "limit is 2000", "by 1"], "prompt"),
    (dict(prompt="y" * 2345), ["Prompt is 2345 characters", "shorten it by 345"], "prompt"),
    (dict(prompt=42), ["must be text", "int"], "prompt"),
    (dict(prompt=b"bytes prompt"), ["must be text", "bytes"], "prompt"),
    (dict(prompt=["a", "b"]), ["must be text", "list"], "prompt"),
    # camera typos
    (dict(prompt="A fox [Pan lft]"), ["[Pan lft]", "did you mean [Pan left]"], "prompt"),
    (dict(prompt="A fox [Zoom-in]"), ["did you mean [Zoom in]"], "prompt"),
    (dict(prompt="A fox [Tracking]"), ["did you mean [Tracking shot]"], "prompt"),
    (dict(prompt="A fox [Static]"), ["did you mean [Static shot]"], "prompt"),
    (dict(prompt="A fox [pedastal up]"), ["did you mean [Pedestal up]"], "prompt"),
    (dict(prompt="A fox [Pan left, quickly]"), ["[quickly]", "outside the brackets"], "prompt"),
    (dict(prompt="[Zoom] " + "z" * 10), ["[Zoom in] or [Zoom out]"], "prompt"),
    # quality / duration
    (dict(prompt="p", quality="720p"), ["'720p'", "768p", "1080p"], "quality"),
    (dict(prompt="p", quality="4k"), ["768p", "1080p"], "quality"),
    (dict(prompt="p", quality=""), ["768p or 1080p"], "quality"),
    (dict(prompt="p", quality=None), ["None", "768p or 1080p"], "quality"),
    (dict(prompt="p", quality=True), ["True", "768p"], "quality"),
    (dict(prompt="p", quality=720), ["720", "768p"], "quality"),
    (dict(prompt="p", duration=7), ["Duration 7", "6 or 10"], "duration"),
    (dict(prompt="p", duration=5), ["6 or 10"], "duration"),
    (dict(prompt="p", duration=0), ["6 or 10"], "duration"),
    (dict(prompt="p", duration=-6), ["6 or 10"], "duration"),
    (dict(prompt="p", duration="abc"), ["'abc'", "6 or 10"], "duration"),
    (dict(prompt="p", duration="6.5"), ["6 or 10"], "duration"),
    (dict(prompt="p", duration=6.5), ["6.5", "6 or 10"], "duration"),
    (dict(prompt="p", duration=float("nan")), ["nan", "6 or 10"], "duration"),
    (dict(prompt="p", duration=True), ["True", "6 or 10"], "duration"),
    (dict(prompt="p", duration=None), ["None", "6 or 10"], "duration"),
    (
        dict(prompt="p", quality="1080p", duration=10),
        ["1080p", "10 s", "768p: 6 s or 10 s; 1080p: 6 s only"],
        "duration",
    ),
    (
        dict(prompt="p", quality="1080", duration="10s"),
        ["768p: 6 s or 10 s; 1080p: 6 s only"],
        "duration",
    ),
    # model and flags
    (dict(prompt="p", model="MiniMax-Hailuo-02"), ["MiniMax-Hailuo-02", MODEL], "model"),
    (dict(prompt="p", model=""), ["Unknown model", MODEL, "fast"], "model"),
    (dict(prompt="p", model=None), ["Unknown model", MODEL, "standard"], "model"),
    (dict(prompt="p", prompt_optimizer=1), ["prompt_optimizer", "True or False", "int"], None),
    (dict(prompt="p", prompt_optimizer=0), ["prompt_optimizer", "bool"], "prompt_optimizer"),
    (dict(prompt="p", prompt_optimizer="yes"), ["prompt_optimizer", "str"], None),
    (dict(prompt="p", fast_pretreatment=1), ["fast_pretreatment", "True or False"], None),
    (dict(prompt="p", fast_pretreatment=None), ["fast_pretreatment", "NoneType"], None),
    # images: local files
    (dict(image="anim.gif"), ["anim.gif", "GIF", "JPEG, PNG or WebP"], "image"),
    (dict(image="text.png"), ["text.png", "not a JPEG, PNG or WebP image"], "image"),
    (dict(image="huge.png"), ["huge.png", "20.00 MB", "limit is 20 MB"], "image"),
    (dict(image="wide.png"), ["1000x300 (3.33:1)", "2:5", "5:2"], "image"),
    (dict(image="tall.jpg"), ["400x1200 (1:3)"], "image"),
    (dict(image="small.png"), ["short edge is 300 px", "more than 300 px"], "image"),
    (dict(image="empty.png"), ["empty.png", "empty"], "image"),
    (dict(image="missing.png"), ["Image file not found: missing.png"], "image"),
    (dict(image="folder.png"), ["Image file not found", "directory"], "image"),
    (dict(image=Path("nope") / "x.webp"), ["Image file not found"], "image"),
    # images: bytes
    (dict(image=factory.gif(640, 480)), ["image bytes", "GIF"], "image"),
    (dict(image=b"garbage"), ["image bytes", "not a JPEG, PNG or WebP"], "image"),
    (dict(image=factory.png(301, 753)), ["301x753", "2:5"], "image"),
    # images: URLs and others
    (dict(image="javascript:alert(1)"), ["javascript", "http"], "image"),
    (dict(image="ftp://example.com/a.png"), ["ftp", "http"], "image"),
    (dict(image="file:///tmp/a.png"), ["file", "http"], "image"),
    (dict(image="data:image/png;base64,iVBORw0KGgo="), ["data: URLs are not documented"], None),
    (dict(image="https://exa mple.com/a.png"), ["whitespace"], "image"),
    (dict(image="https:///a.png"), ["no host"], "image"),
    (dict(image=""), ["empty string", "image=None"], "image"),
    (dict(image="www.example.com/a.png"), ["not found", "https://www.example.com/a.png"], None),
    (dict(image="example.com/a.png"), ["with https:// in front"], "image"),
    (dict(image=12345), ["file path, bytes or an http(s) URL", "int"], "image"),
    (dict(image=[URL, URL]), ["one image at most", "2"], "image"),
    (dict(image={"url": URL}), ["dict"], "image"),
]


@pytest.mark.parametrize(
    ("kwargs", "words", "field"),
    BAD,
    ids=[f"{i}-{'-'.join(map(str, k))}" for i, (k, _, _) in enumerate(BAD)],
)
def test_bad_inputs_are_refused_with_one_line_messages(images, kwargs, words, field):
    if kwargs.get("image") == "huge.png":
        factory.write(images / "huge.png", _image_files()["huge.png"])
    with pytest.raises(ValidationError) as err:
        GenerationRequest(**kwargs)
    msg = one_line(err.value)
    for word in words:
        assert word in msg, (word, msg)
    assert " — " in msg  # says what to do
    if field is not None:
        assert err.value.field == field
    else:
        assert err.value.field


def test_the_bad_table_is_large_enough():
    assert len(BAD) >= 40


def test_validation_error_is_a_value_error():
    with pytest.raises(ValueError):
        GenerationRequest(prompt="")


# ---------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        ("768p", "768p"),
        ("768P", "768p"),
        ("768", "768p"),
        (" 1080p ", "1080p"),
        (768, "768p"),
        ("1080", "1080p"),
        ("1080 P", "1080p"),
    ],
)
def test_quality_spellings(quality, expected):
    assert GenerationRequest(prompt="p", quality=quality).quality == expected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (6, 6),
        (10, 10),
        ("6", 6),
        ("10s", 10),
        ("10 s", 10),
        (" 6 seconds", 6),
        (6.0, 6),
        ("10.0", 10),
        (10.0, 10),
    ],
)
def test_duration_spellings(duration, expected):
    req = GenerationRequest(prompt="p", duration=duration)
    assert req.duration == expected and type(req.duration) is int


def test_model_spelling_is_canonicalised():
    assert GenerationRequest(prompt="p", model="minimax-hailuo-2.3").model == MODEL


def test_prompt_is_stripped_and_camera_commands_canonicalised():
    req = GenerationRequest(prompt="\n  A fox [pan LEFT] then [ push in ,zoom out ]\n")
    assert req.prompt == "A fox [Pan left] then [Push in,Zoom out]"
    assert req.camera_commands == ("Pan left", "Push in", "Zoom out")
    assert req.prompt_warnings == ()


def test_prompt_warnings_do_not_block():
    req = GenerationRequest(prompt="A page [sic] [Pan left,Zoom in,Tilt up,Shake]")
    assert [w.kind for w in req.prompt_warnings] == ["not_a_command", "too_many"]
    assert req.prompt.startswith("A page [sic]")


def test_prompt_limit_counts_after_normalisation():
    # "[ pan  left ]" (13 chars) becomes "[Pan left]" (10 chars): 1997 + 3 saved fits.
    prompt = "x" * 1990 + "[ pan  left ]"
    assert len(prompt) == 2003
    assert len(GenerationRequest(prompt=prompt).prompt) == 2000
    assert len(GenerationRequest(prompt="é" * 2000).prompt) == 2000


def test_local_paths_str_pathlike_relative(images):
    absolute = images / "ok.png"
    for image in ("ok.png", str(absolute), absolute, "./ok.png"):
        req = GenerationRequest(image=image)
        assert req.mode == "image-to-video" and req.image_kind == "path"
        assert isinstance(req.image, str) and req.image == os.fspath(image)
        assert req.image_path == str(absolute.resolve())
        assert req.image_url is None
        assert req.image_info.format == "png" and (req.image_info.width, req.image_info.height) == (
            640,
            480,
        )
        assert req.image_bytes() == absolute.read_bytes()


def test_relative_path_keeps_working_after_chdir(images, tmp_path_factory, monkeypatch):
    req = GenerationRequest(image="ok.jpg")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert req.image_bytes() == (images / "ok.jpg").read_bytes()
    assert req.replace(quality="1080p").image_path == req.image_path


def test_image_bytes_rechecks_a_file_changed_since(images):
    path = factory.write(images / "later.png", factory.png(640, 480))
    req = GenerationRequest(image=path)
    factory.write(path, factory.gif(640, 480))
    with pytest.raises(ValidationError, match="GIF"):
        req.image_bytes()


@pytest.mark.parametrize("make", [factory.png, factory.jpeg, factory.webp])
def test_bytes_images(make):
    data = make(640, 480)
    for given_ in (data, bytearray(data), memoryview(data)):
        req = GenerationRequest(image=given_)
        assert req.image_kind == "bytes" and type(req.image) is bytes
        assert req.image_bytes() == data and req.image_url is None
        assert req.image_info.size == len(data)


def test_url_images():
    req = GenerationRequest(image="  https://example.com/cat.png  ")
    assert req.image == URL and req.image_kind == "url" and req.image_url == URL
    assert req.image_bytes() is None and req.image_info is None
    assert GenerationRequest(image=[URL]).image_url == URL
    assert GenerationRequest(image=[], prompt="p").mode == "text-to-video"


def test_image_to_video_without_prompt_is_fine():
    req = GenerationRequest(image=URL)
    assert req.prompt == "" and req.mode == "image-to-video"


def test_text_to_video_mode():
    req = GenerationRequest(prompt="A red fox in snow")
    assert req.mode == "text-to-video" and req.image_kind is None
    assert req.image_url is None and req.image_bytes() is None and req.image_info is None


def test_repr_hides_bytes():
    data = factory.png(640, 480)
    text = repr(GenerationRequest(prompt="p", image=data))
    assert f"<{len(data)} bytes png 640x480>" in text
    assert "\\x89PNG" not in text and len(text) < 400
    assert "prompt='p'" in repr(GenerationRequest(prompt="p"))
    long_repr = repr(GenerationRequest(prompt="z" * 2000))
    assert len(long_repr) < 400


def test_frozen_hashable_equal_picklable():
    a = GenerationRequest(prompt="A fox [pan left]")
    b = GenerationRequest(prompt="A fox [Pan left]")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.prompt = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a  # noqa: S301 - our own bytes
    assert copy.deepcopy(a) == a
    assert GenerationRequest(prompt="p", duration=10) != GenerationRequest(prompt="p")


def test_replace_validates():
    req = GenerationRequest(prompt="A fox", quality="1080p")
    assert req.replace(quality="768p", duration=10).duration == 10
    with pytest.raises(ValidationError, match="1080p"):
        req.replace(duration=10)
    with pytest.raises(ValidationError, match="did you mean"):
        req.replace(prompt="[Pan lft]")
    assert req.replace(image=URL).mode == "image-to-video"


# ---------------------------------------------------------------------------- to_json


def test_to_json_text_to_video_exact():
    req = GenerationRequest(prompt="A beautiful sunset over the ocean [static SHOT]")
    assert req.to_json() == {
        "model": MODEL,
        "prompt": "A beautiful sunset over the ocean [Static shot]",
        "quality": "768p",
        "duration": 6,
        "model_params": {"prompt_optimizer": True, "fast_pretreatment": False},
    }


def test_to_json_image_to_video_by_url_exact():
    req = GenerationRequest(
        prompt="The cat turns its head [Push in]",
        image=URL,
        quality="1080p",
        prompt_optimizer=False,
        fast_pretreatment=True,
    )
    assert req.to_json() == {
        "model": MODEL,
        "prompt": "The cat turns its head [Push in]",
        "image_urls": [URL],
        "quality": "1080p",
        "duration": 6,
        "model_params": {"prompt_optimizer": False, "fast_pretreatment": True},
    }


def test_to_json_image_to_video_without_prompt_sends_empty_prompt():
    body = GenerationRequest(image=URL, duration=10).to_json()
    assert body == {
        "model": MODEL,
        "prompt": "",
        "image_urls": [URL],
        "quality": "768p",
        "duration": 10,
        "model_params": {"prompt_optimizer": True, "fast_pretreatment": False},
    }


def test_to_json_local_image_needs_the_uploaded_url(images):
    for image in ("ok.webp", (images / "ok.jpg").read_bytes()):
        req = GenerationRequest(image=image)
        with pytest.raises(ValidationError) as err:
            req.to_json()
        assert "uploaded" in one_line(err.value)
        uploaded = "http://127.0.0.1:9/files/abc.png"
        assert req.to_json(image_url=uploaded)["image_urls"] == [uploaded]
        with pytest.raises(ValidationError, match="http"):
            req.to_json(image_url="file:///tmp/x.png")


def test_to_json_text_to_video_refuses_an_image_url():
    with pytest.raises(ValidationError, match="text-to-video"):
        GenerationRequest(prompt="p").to_json(image_url=URL)


@pytest.mark.parametrize(
    ("quality", "duration", "ok"),
    [("768p", 6, True), ("768p", 10, True), ("1080p", 6, True), ("1080p", 10, False)],
)
@pytest.mark.parametrize("image", [None, URL])
@pytest.mark.parametrize("flags", [(True, False), (False, True), (True, True), (False, False)])
def test_all_combinations(quality, duration, ok, image, flags):
    kwargs = dict(
        prompt="A fox",
        image=image,
        quality=quality,
        duration=duration,
        prompt_optimizer=flags[0],
        fast_pretreatment=flags[1],
    )
    if not ok:
        with pytest.raises(ValidationError, match="1080p: 6 s only"):
            GenerationRequest(**kwargs)
        return
    body = GenerationRequest(**kwargs).to_json()
    expected = {
        "model": MODEL,
        "prompt": "A fox",
        "quality": quality,
        "duration": duration,
        "model_params": {"prompt_optimizer": flags[0], "fast_pretreatment": flags[1]},
    }
    if image:
        expected["image_urls"] = [image]
    assert body == expected
    assert json.loads(json.dumps(body)) == body
    _validate_body(body)


# ---------------------------------------------------------------------------- schema

_SPEC_CANDIDATES = [
    Path(__file__).resolve().parents[1] / "hailuo_nb/emulator/spec/video-generations.openapi.yaml",
    Path("/work/shared/api/video-generations.openapi.yaml"),
]

# The contract as FACTS.md states it, strict: used whether or not the YAML is at hand.
_STRICT_SCHEMA = {
    "type": "object",
    "required": ["model", "prompt", "quality", "duration", "model_params"],
    "additionalProperties": False,
    "properties": {
        "model": {"const": MODEL},
        "prompt": {"type": "string", "maxLength": 2000},
        "image_urls": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {"type": "string", "pattern": "^https?://[^\\s/]+"},
        },
        "quality": {"enum": ["768p", "1080p"]},
        "duration": {"enum": [6, 10]},
        "model_params": {
            "type": "object",
            "additionalProperties": False,
            "required": ["prompt_optimizer", "fast_pretreatment"],
            "properties": {
                "prompt_optimizer": {"type": "boolean"},
                "fast_pretreatment": {"type": "boolean"},
            },
        },
    },
    "if": {"properties": {"quality": {"const": "1080p"}}},
    "then": {"properties": {"duration": {"const": 6}}},
}


def _openapi_request_schema():
    yaml = pytest.importorskip("yaml")
    for path in _SPEC_CANDIDATES:
        if path.is_file():
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            schema = copy.deepcopy(spec["components"]["schemas"]["VideoGenerationRequest"])
            schema["additionalProperties"] = False  # stricter than the document
            schema["properties"]["model_params"]["additionalProperties"] = False
            return schema
    return None


def _validate_body(body):
    jsonschema = pytest.importorskip("jsonschema")
    checker = jsonschema.FormatChecker()
    jsonschema.Draft202012Validator(_STRICT_SCHEMA, format_checker=checker).validate(body)
    schema = _openapi_request_schema()
    if schema is not None:
        jsonschema.Draft202012Validator(schema, format_checker=checker).validate(body)


def test_openapi_schema_is_found_and_strict():
    schema = _openapi_request_schema()
    if schema is None:
        pytest.skip("no copy of video-generations.openapi.yaml in this checkout")
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    good = GenerationRequest(prompt="p").to_json()
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "image_urls": None})
    assert not validator.is_valid({**good, "extra": 1})
    assert not validator.is_valid({**good, "duration": 7})


prompts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]"),
    max_size=300,
)


@given(
    prompt=prompts,
    quality=st.sampled_from(["768p", "1080p", "768", "1080P"]),
    duration=st.sampled_from([6, 10, "6", "10s", 6.0]),
    image=st.sampled_from([None, URL, "http://127.0.0.1:8000/x.jpg"]),
    flags=st.tuples(st.booleans(), st.booleans()),
)
@pytest.mark.slow
@settings(max_examples=200, deadline=None)
def test_every_accepted_request_gives_a_valid_body(prompt, quality, duration, image, flags):
    try:
        req = GenerationRequest(
            prompt=prompt,
            image=image,
            quality=quality,
            duration=duration,
            prompt_optimizer=flags[0],
            fast_pretreatment=flags[1],
        )
    except ValidationError as exc:
        one_line(exc)
        return
    _validate_body(req.to_json())


@given(prompt=st.text(max_size=2100), quality=st.text(max_size=6), duration=st.text(max_size=6))
@settings(max_examples=200, deadline=None)
def test_construction_only_raises_validation_error(prompt, quality, duration):
    try:
        GenerationRequest(prompt=prompt, quality=quality, duration=duration)
    except ValidationError as exc:
        one_line(exc)


# ---------------------------------------------------------------------------- records


def test_record_roundtrip_text_and_url():
    for req in (
        GenerationRequest(prompt="A fox [Tracking shot]", quality="1080p"),
        GenerationRequest(image=URL, duration=10, prompt_optimizer=False),
    ):
        record = req.to_record()
        assert json.loads(json.dumps(record)) == record
        assert GenerationRequest.from_record(record) == req
    record = GenerationRequest(prompt="p", fast_pretreatment=True).to_record()
    assert record == {
        "prompt": "p",
        "quality": "768p",
        "duration": 6,
        "model": MODEL,
        "prompt_optimizer": True,
        "fast_pretreatment": True,
        "mode": "text-to-video",
        "image": None,
        "image_kind": None,
        "image_info": None,
    }


def test_record_roundtrip_local_path_is_absolute(images, tmp_path_factory, monkeypatch):
    req = GenerationRequest(prompt="p", image="ok.png")
    record = req.to_record()
    assert record["image"] == str((images / "ok.png").resolve())
    assert record["image_kind"] == "path" and record["mode"] == "image-to-video"
    assert record["image_info"] == {
        "format": "png",
        "width": 640,
        "height": 480,
        "size": (images / "ok.png").stat().st_size,
    }
    monkeypatch.chdir(tmp_path_factory.mktemp("other"))
    again = GenerationRequest.from_record(record)
    assert again.image_path == req.image_path and again.to_json(image_url=URL) == req.to_json(
        image_url=URL
    )


def test_record_of_bytes_image_cannot_be_rebuilt():
    data = factory.jpeg(640, 480)
    record = GenerationRequest(prompt="p", image=data).to_record()
    digest = hashlib.sha256(data).hexdigest()
    assert record["image"] == f"<bytes sha256:{digest} {len(data)} B>"
    assert json.dumps(record)
    with pytest.raises(ValidationError) as err:
        GenerationRequest.from_record(record)
    assert "bytes are not stored" in one_line(err.value)
    # Even without the kind, the placeholder is recognised.
    with pytest.raises(ValidationError, match="bytes are not stored"):
        GenerationRequest.from_record({**record, "image_kind": None})


def test_from_record_validates_and_tolerates_missing_fields(images):
    assert GenerationRequest.from_record({"prompt": "p"}) == GenerationRequest(prompt="p")
    with pytest.raises(ValidationError, match="1080p"):
        GenerationRequest.from_record({"prompt": "p", "quality": "1080p", "duration": 10})
    with pytest.raises(ValidationError, match="must be a dict"):
        GenerationRequest.from_record("nope")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Image file not found"):
        GenerationRequest.from_record({"prompt": "p", "image": str(images / "gone.png")})
