"""The emulator's files API, answered in its own envelope ``{"success", "code", "msg",
"data"}``: base64 and multipart uploads, the list of live files, the quota, deletion."""

from __future__ import annotations

import binascii
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from urllib.parse import parse_qs

from . import _imageprobe
from .http_io import Response, WireHandler
from .state import Refusal, Upload, decode_base64_payload

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100


def files_refusal(status: int, message: str, headers: dict | None = None, *,
                  code: int | None = None) -> Response:
    """The files API's error answer; ``code`` is its business code (40001 too large,
    40002 type not allowed, 40003 quota exceeded...), the HTTP status when not given."""
    return Response.json(status, {"success": False, "code": code or status, "msg": message},
                         headers)


def files_success(data: dict) -> Response:
    return Response.json(200, {"success": True, "code": 200, "msg": "success", "data": data})


class FilesEndpoints(WireHandler):
    """``POST /api/v1/files/upload/base64`` and ``/upload/stream``, ``GET
    /api/v1/files/list`` and ``/quota``, ``DELETE /api/v1/files/{file_id}``."""

    @staticmethod
    def _as_files_envelope(response: Response) -> Response:
        try:
            error = json.loads(response.body)["error"]
            code = error.get("code")
        except (ValueError, KeyError, TypeError, AttributeError):
            return response
        numeric = isinstance(code, int) and not isinstance(code, bool)
        return files_refusal(response.status, error.get("message", "error"), response.headers,
                             code=code if numeric else None)

    def _file_object(self, upload: Upload) -> dict:
        """A file as the upload answers and the list show it."""
        url = f"{self.server.base_url}/media/uploads/{upload.name}"
        return {
            "file_id": upload.file_id,
            "file_name": upload.original or upload.name,
            "file_url": url,
            "download_url": url,
            "mime_type": upload.mime,
            "file_size": len(upload.data),
            "upload_time": _iso(upload.created),
            "expires_at": _iso(upload.expires),
        }

    def _files_list(self, query: str) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        values = {}
        for name, default, top in (("page", 1, None), ("pageSize", PAGE_SIZE_DEFAULT,
                                                       PAGE_SIZE_MAX)):
            raw = (params.get(name) or [""])[0].strip()
            try:
                value = int(raw) if raw else default
            except ValueError:
                value = 0
            if value < 1 or (top is not None and value > top):
                limits = f"between 1 and {top}" if top else "an integer >= 1"
                return files_refusal(400, f"{name} must be {limits}")
            values[name] = value
        page, size = values["page"], values["pageSize"]
        live = self.server.state.live_uploads()
        shown = live[(page - 1) * size:page * size]
        return files_success({
            "files": [self._file_object(upload) for upload in shown],
            "total": len(live),
            "page": page,
            "pageSize": size,
        })

    def _files_quota(self) -> Response:
        return files_success(self.server.state.upload_quota())

    def _files_delete(self, file_id: str) -> Response:
        upload = self.server.state.delete_upload(file_id) if file_id else None
        if upload is None:
            return files_refusal(404, "File not found or expired")
        return files_success({"file_id": upload.file_id})

    def _upload_base64(self, raw: bytes) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return files_refusal(400, "Request body must be JSON: {\"base64_data\": \"...\"}")
        if not isinstance(body, dict) or "base64_data" not in body:
            return files_refusal(400, "base64_data is required")
        text = body["base64_data"]
        if not isinstance(text, str) or not text.strip():
            return files_refusal(400, "base64_data must be non-empty base64 text or a data: URL")
        try:
            data = decode_base64_payload(text.strip())
        except (ValueError, binascii.Error):
            return files_refusal(400, "base64_data is not valid base64 (raw or a data: URL)")
        name = body.get("file_name") if isinstance(body.get("file_name"), str) else ""
        return self._store_upload(data, name)

    def _upload_stream(self, raw: bytes) -> Response:
        ctype = self.headers.get("Content-Type", "")
        if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
            return files_refusal(400, "Use multipart/form-data with a 'file' field")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode("latin-1") + raw
        )
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True) or b""
                return self._store_upload(payload, part.get_filename() or "")
        return files_refusal(400, "No 'file' field in the multipart upload")

    def _store_upload(self, data: bytes, original: str) -> Response:
        if not data:
            return files_refusal(400, "The file is empty")
        found = _imageprobe.probe(data)
        if found is None:
            return files_refusal(400, "Unsupported file type: upload a JPEG, PNG, GIF or WebP "
                                      "image")
        original = Path(original.replace("\\", "/")).name[:255] if original else ""
        try:
            upload = self.server.state.add_upload(data, original, found.mime, found.ext)
        except Refusal as refusal:  # over the file quota: 400, business code 40003
            code = refusal.code if isinstance(refusal.code, int) else None
            return files_refusal(refusal.status, refusal.message, code=code)
        return files_success(self._file_object(upload))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
