"""The emulator's files API: base64 and multipart uploads, answered in its envelope."""

from __future__ import annotations

import binascii
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

from . import _imageprobe
from .http_io import Response, WireHandler
from .state import decode_base64_payload


def files_refusal(status: int, message: str, headers: dict | None = None) -> Response:
    return Response.json(status, {"success": False, "code": status, "msg": message}, headers)


class FilesEndpoints(WireHandler):
    """``POST /api/v1/files/upload/base64`` and ``/upload/stream``."""

    @staticmethod
    def _as_files_envelope(response: Response) -> Response:
        try:
            error = json.loads(response.body)["error"]
        except (ValueError, KeyError, TypeError):
            return response
        return files_refusal(response.status, error.get("message", "error"), response.headers)

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
        upload = self.server.state.add_upload(data, original, found.mime, found.ext)
        url = f"{self.server.base_url}/media/uploads/{upload.name}"
        return Response.json(200, {
            "success": True,
            "code": 200,
            "msg": "success",
            "data": {
                "file_id": upload.file_id,
                "file_name": upload.original or upload.name,
                "file_url": url,
                "download_url": url,
                "mime_type": upload.mime,
                "file_size": len(data),
                "upload_time": _iso(upload.created),
                "expires_at": _iso(upload.expires),
            },
        })


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
