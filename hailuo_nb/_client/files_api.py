"""The files API half of the client: upload an image (one per content, reused while it
lives), list the account's uploads, its quota, and delete an upload.

Mixed into ``Client``, whose plumbing (``_call``: deadlines, retries, error mapping, the
key scrubbed from every message) it uses."""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

from .._pure.image_checks import check_image, guess_filename, read_local_image
from ..errors import APIError, ValidationError

UPLOAD_LIFETIME = 72 * 3600  # FACTS.md: uploads expire after 72 h


def expiry_of(data: dict) -> float:
    """The upload's expiry as a Unix time (its ``expires_at``, else 72 h from now)."""
    text = str(data.get("expires_at") or "")
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time() + UPLOAD_LIFETIME


class FilesAPI:
    files_url: str

    def _files_answer(self, method: str, path: str, what: str, **kwargs: Any) -> dict:
        response, body = self._call(method, f"{self.files_url}{path}", retry=method == "GET",
                                    idempotent=method != "POST", **kwargs)  # type: ignore[attr-defined]
        if not (isinstance(body, dict) and body.get("success") is not False):
            message = body.get("msg") if isinstance(body, dict) else None
            raise APIError(self._scrub(message or f"the files API did not {what}"),  # type: ignore[attr-defined]
                           status=response.status_code,
                           code=body.get("code") if isinstance(body, dict) else None)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def upload_image_info(self, path_or_bytes: str | os.PathLike | bytes,
                          name: str | None = None) -> dict:
        """Upload a local image; the files API's answer (``file_id``, ``file_url``,
        ``expires_at`` …). ``name``: the file it came from (the upload keeps its stem)."""
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            data = bytes(path_or_bytes)
            info = check_image(data, "image bytes")
        else:
            data, info = read_local_image(path_or_bytes)
            name = name or os.fspath(path_or_bytes)
        stem = os.path.splitext(os.path.basename(name))[0] if name else "image"
        files = {"file": (guess_filename(info, stem), data, info.mime)}
        answer = self._files_answer("POST", "/api/v1/files/upload/stream", "take the upload",
                                    files=files)
        if not answer.get("file_url"):
            raise APIError("the files API returned no file_url", status=200)
        return answer

    def upload_image(self, path_or_bytes: str | os.PathLike | bytes,
                     name: str | None = None) -> str:
        """Upload a local image through the files API; returns its ``file_url``."""
        return str(self.upload_image_info(path_or_bytes, name)["file_url"])

    def list_files(self, page: int = 1, page_size: int = 20) -> dict:
        """One page of the account's uploads: ``{"files": [...], "total": n, ...}``."""
        if page < 1 or not 1 <= page_size <= 100:
            raise ValidationError("list_files: page >= 1 and 1 <= page_size <= 100.")
        return self._files_answer("GET", "/api/v1/files/list", "list the files",
                                  params={"page": page, "pageSize": page_size})

    def files_quota(self) -> dict:
        """``{"used": n, "limit": m, "remaining": k}`` for the account's uploads."""
        return self._files_answer("GET", "/api/v1/files/quota", "give the quota")

    def delete_file(self, file_id: str) -> None:
        if not str(file_id or "").strip() or "/" in str(file_id):
            raise ValidationError(f"Not a file id: {str(file_id)[:40]!r}.")
        self._files_answer("DELETE", f"/api/v1/files/{file_id}", "delete the file")
