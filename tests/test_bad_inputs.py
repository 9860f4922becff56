"""Bad input end to end: one clear line each, and the emulator sees no request at all."""

from __future__ import annotations

import pytest
from imagefactory import gif, jpeg, png, webp

import hailuo_nb
from hailuo_nb import Client, ValidationError

LONG = "x" * 2001


def _files(tmp_path):
    made = {
        "gif": tmp_path / "anim.gif",
        "text_as_png": tmp_path / "notes.png",
        "tiny": tmp_path / "tiny.png",
        "wide": tmp_path / "wide.jpg",
        "tall": tmp_path / "tall.webp",
        "huge": tmp_path / "huge.png",
        "empty": tmp_path / "empty.png",
    }
    made["gif"].write_bytes(gif(640, 480))
    made["text_as_png"].write_text("this is not an image")
    made["tiny"].write_bytes(png(300, 300))
    made["wide"].write_bytes(jpeg(1300, 500))
    made["tall"].write_bytes(webp(400, 1100))
    made["huge"].write_bytes(png(640, 480, size=20 * 1024 * 1024 + 1))
    made["empty"].write_bytes(b"")
    return made


# (kwargs for generate, words the message must contain)
CASES = [
    ({"prompt": ""}, ["prompt"]),
    ({"prompt": "   \n\t "}, ["prompt"]),
    ({"prompt": LONG}, ["2001", "2000"]),
    ({"prompt": "y" * 5000}, ["5000", "2000"]),
    ({"prompt": "a cat [Pan lft]"}, ["Pan left"]),
    ({"prompt": "a cat [Zoom-in]"}, ["Zoom in"]),
    ({"prompt": "a cat [pan-rigth]"}, ["Pan right"]),
    ({"prompt": "a cat [Push-in]"}, ["Push in"]),
    ({"prompt": "a cat [Pedestal upp]"}, ["Pedestal up"]),
    ({"prompt": "a cat [Tilt dwn]"}, ["Tilt down"]),
    ({"prompt": "a cat [Truck lefft]"}, ["Truck left"]),
    ({"prompt": "a cat [Trackng shot]"}, ["Tracking shot"]),
    ({"prompt": "a cat [Statc shot]"}, ["Static shot"]),
    ({"prompt": "a cat [Zoom out,Pan lft]"}, ["Pan left"]),
    ({"prompt": "x", "quality": "1080p", "duration": 10}, ["1080p", "6"]),
    ({"prompt": "x", "quality": "4k"}, ["768p", "1080p"]),
    ({"prompt": "x", "quality": "720p"}, ["768p"]),
    ({"prompt": "x", "quality": ""}, ["768p"]),
    ({"prompt": "x", "duration": 7}, ["6", "10"]),
    ({"prompt": "x", "duration": 0}, ["6", "10"]),
    ({"prompt": "x", "duration": -6}, ["6", "10"]),
    ({"prompt": "x", "duration": "long"}, ["6", "10"]),
    ({"prompt": "x", "duration": True}, ["6", "10"]),
    ({"prompt": "x", "duration": 6.5}, ["6", "10"]),
    ({"prompt": "x", "prompt_optimizer": "yes"}, ["prompt_optimizer"]),
    ({"prompt": "x", "fast_pretreatment": 1}, ["fast_pretreatment"]),
    ({"prompt": "x", "image": "javascript:alert(1)"}, ["http"]),
    ({"prompt": "x", "image": "ftp://example.com/a.png"}, ["http"]),
    ({"prompt": "x", "image": "file:///etc/passwd"}, ["http"]),
    ({"prompt": "x", "image": "data:image/png;base64,iVBORw0KGgo="}, ["data:"]),
    ({"prompt": "x", "image": "https://"}, ["host"]),
    ({"prompt": "x", "image": "no/such/file.png"}, ["not found"]),
    ({"prompt": "x", "image": b"not an image at all"}, ["JPEG"]),
    ({"prompt": "x", "image": b""}, ["image"]),
    ({"prompt": "x", "image": "@gif"}, ["GIF"]),
    ({"prompt": "x", "image": "@text_as_png"}, ["JPEG"]),
    ({"prompt": "x", "image": "@tiny"}, ["300"]),
    ({"prompt": "x", "image": "@wide"}, ["1300x500"]),
    ({"prompt": "x", "image": "@tall"}, ["400x1100"]),
    ({"prompt": "x", "image": "@huge"}, ["20"]),
    ({"prompt": "x", "image": "@empty"}, ["empty"]),
    ({"image": "@tiny"}, ["300"]),
]


@pytest.mark.parametrize(("kwargs", "words"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_bad_input_is_refused_before_any_request(kwargs, words, client, emulator, tmp_path):
    files = _files(tmp_path)
    image = kwargs.get("image")
    if isinstance(image, str) and image.startswith("@"):
        kwargs = {**kwargs, "image": files[image[1:]]}
    with pytest.raises(ValidationError) as info:
        hailuo_nb.generate(client=client, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 400
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    assert emulator.requests_seen == 0
    assert hailuo_nb.history() == []


@pytest.mark.parametrize("bad_key", ["", "   ", "two words", "tab\tkey", "ключ"])
def test_bad_keys_are_refused_before_any_request(bad_key, emulator):
    with pytest.raises(ValidationError) as info:
        Client(api_key=bad_key, base_url=emulator.base_url)
    assert "\n" not in str(info.value)
    assert "key" in str(info.value).lower()
    if bad_key.strip():
        assert bad_key not in str(info.value)
    assert emulator.requests_seen == 0


@pytest.mark.parametrize("url", ["ftp://host", "localhost:8765", "", "javascript:x"])
def test_bad_base_urls_are_refused(url, api_key):
    with pytest.raises(ValidationError, match="http"):
        Client(api_key=api_key, base_url=url or " ")
