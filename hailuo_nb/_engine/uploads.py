"""One upload per image content: a local image is uploaded once and its link reused while
the provider keeps it (72 h); uploads count against the account's file quota.

The engine asks ``image_url_for`` before every submission (a direct call or a queued one),
so a batch of 30 prompts over one image uploads it once."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from .._client.files_api import expiry_of
from ..errors import APIError

if TYPE_CHECKING:
    from .._client.client import Client
    from ..task import Task

KEEP_MARGIN = 3600.0  # reuse an upload only if it lives this much longer (the provider fetches)
QUOTA_CODE = 40003  # the files API's "quota exceeded"


def image_url_for(task: Task, client: Client) -> str | None:
    """Where the provider can fetch ``task``'s image: its URL, an earlier upload of the same
    content that still lives, or a new upload (recorded). None for text-to-video."""
    request = task.request
    if request is None or request.image_kind not in ("path", "bytes"):
        return None
    data = request.image_bytes()
    digest = hashlib.sha256(data).hexdigest()
    store = task.store
    known = store.live_upload(digest, client.files_url, until=time.time() + KEEP_MARGIN) if (
        store is not None) else None
    if known is not None:
        task.upload_id = known["file_id"]
        return known["file_url"]
    try:
        answer = client.upload_image_info(data, request.image_path)
    except APIError as exc:
        if str(exc.code) == str(QUOTA_CODE):
            raise APIError(f"{exc.message} — free space with `%hailuo files clean` (deletes "
                           "this project's uploads whose tasks are done)", status=exc.status,
                           code=exc.code) from None
        raise
    file_id = str(answer.get("file_id") or answer["file_url"])
    if store is not None:
        store.add_upload(file_id, digest, client.files_url, str(answer["file_url"]),
                         expiry_of(answer))
    task.upload_id = file_id
    return str(answer["file_url"])
