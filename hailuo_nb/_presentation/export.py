"""A sweep as a dataset folder: the videos and one ``metadata.jsonl`` row per video.

The layout Hugging Face's folder loaders read (``load_dataset("videofolder",
data_dir=folder)``): each row's ``file_name`` is the video's path relative to the folder,
the other columns ride along — every parameter, camera verdict and measured motion, clip
quality, sha256 and parent link. With pyarrow installed the same table is also written as
``sweep.parquet`` (not ``metadata.parquet``: the loaders refuse two metadata files).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._pure.paths import inside, safe_stem, sha256_of
from ..errors import ValidationError
from .compare import compare

METADATA = "metadata.jsonl"
PARQUET = "sweep.parquet"
VIDEOS = "videos"


@dataclass(frozen=True)
class Export:
    folder: Path
    metadata: Path
    parquet: Path | None
    rows: list  # what metadata.jsonl holds, in order
    skipped: list  # (label, why) of the takes with no video to export

    def __repr__(self) -> str:
        lines = [f"Exported {len(self.rows)} video(s) to {self.folder} ({METADATA}"
                 + (f", {PARQUET}" if self.parquet else "") + ")"]
        lines += [f"  skipped {label}: {why}" for label, why in self.skipped]
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def export(tasks: Iterable[Any], folder: str | os.PathLike, *, measure: bool = True) -> Export:
    """Write the finished videos of ``tasks`` into ``folder/videos/`` and their rows into
    ``folder/metadata.jsonl`` (and ``sweep.parquet`` when pyarrow is installed)."""
    tasks = list(tasks)
    if not tasks:
        raise ValidationError("export() needs at least one task.")
    folder = Path(folder).expanduser()
    (folder / VIDEOS).mkdir(parents=True, exist_ok=True)
    table = compare(tasks, measure=measure)
    rows, skipped, used = [], [], set()
    for task, row in zip(tasks, table.records(), strict=True):
        source = row.pop("file")
        if not source:
            why = row["error"] or (f"{row['status']}, no video on disk" if row["status"]
                                   else "no video on disk")
            skipped.append((row["label"], why))
            continue
        stem = safe_stem(task.id or task.local_id or row["label"], fallback="video")
        name = stem
        n = 1
        while name in used:  # the same video twice (a reused take) keeps both rows
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        target = inside(folder / VIDEOS, name + ".mp4")
        shutil.copyfile(source, target)
        record = {"file_name": f"{VIDEOS}/{target.name}", **row,
                  "sha256": sha256_of(target), "bytes": target.stat().st_size}
        rows.append({k: _jsonable(v) for k, v in record.items()})
    metadata = folder / METADATA
    tmp = metadata.with_suffix(".jsonl.part")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in rows:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, metadata)
    parquet = _write_parquet(folder / PARQUET, rows)
    return Export(folder, metadata, parquet, rows, skipped)


def _write_parquet(path: Path, rows: list[dict]) -> Path | None:
    try:
        import pyarrow as pa  # optional: Parquet only when pyarrow is installed
        import pyarrow.parquet as pq
    except ImportError:
        return None
    if not rows:
        return None
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
