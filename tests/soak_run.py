"""Soak: many tasks through ``hailuo_nb`` against an emulator that misbehaves on purpose.

    python bench/soak.py --tasks 300 --seed 1     (the benchmark's entry; the logic lives here)

Faults: 10% of API answers are 5xx (500/502/503), 5% are held back a second (slow
links), 5% of video downloads drip (4 KB every 0.1 s), 5% of API requests are dropped (a
dropped POST *has* created its task: the client must report it as uncertain, never send
it twice), bursts of 429 on both routes (and optionally an rpm limit), 3% of tasks fail
on the server, a few prompts carry the blocked word, result links live a few seconds,
and some media requests fail. Part of the work is submitted by a child "kernel" that is
killed before it ever polls; half of its tasks are resumed at once, half only after
their links have expired.

Checked at the end (any breach is a violation; the script exits 1):
- every task is in the history and ended completed, or failed with a code and a message;
- every completed video is on disk with the emulator's sha256 and a matching sidecar,
  or its task says the link expired (``download_error``);
- nothing was created twice: at most one emulator task per prompt, and
  ``tasks_created == tasks with an id + POSTs that ended submission_uncertain``;
- every Task object agrees with its history row;
- the poller thread is alive, the same one all along, and the only one; nothing is
  still followed; nothing was logged at ERROR; no partial files; the key is in no file.

``tests/test_soak.py`` runs ``run_soak`` with ~60 tasks and fast timings; ``bench/soak.py`` with
300 (the benchmark may use the tests' helpers; the tests never import the benchmark).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"
MEDIA = "GET /media"
TAG_RE = re.compile(r"\bsoak-(\d{5})\b")
BLOCKED_WORD = "nsfw"  # the emulator's default blocked word → content_policy_violation
PROVIDER_CODES = {"content_policy_violation", "service_error"}  # what this emulator fails with
LOCAL_CODES = {"submission_uncertain", "http_500", "http_502"}  # a non-503 5xx on a POST

# A "kernel" that submits a batch and dies before its first poll. argv: prompts (JSON),
# download folder, guard seconds. It prints READY once every task is on record (an id,
# or failed), so being killed loses nothing the history could have known.
CHILD = r"""
import json, sys, time
import hailuo_nb
from hailuo_nb.settings import settings
settings.poll_interval = settings.first_poll_delay = settings.max_poll_interval = 3600.0
prompts, folder, guard = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
tasks = hailuo_nb.generate_many(prompts, max_in_flight=len(prompts), download_dir=folder)
store = tasks[0]._store
deadline = time.monotonic() + guard
while time.monotonic() < deadline:
    rows = [store.get(t.local_id) for t in tasks]
    if all(r["task_id"] or r["status"] == "failed" for r in rows):
        print("READY", flush=True)
        break
    time.sleep(0.02)
else:
    print("TIMEOUT", flush=True)
time.sleep(3600)
"""


@dataclass
class SoakConfig:
    tasks: int = 300  # all of them: child batch + main batch + generate() calls
    seed: int = 1
    max_in_flight: int = 16
    singles: int = 6  # through hailuo_nb.generate()
    crashed: int = 12  # submitted by the child that dies; half resumed late
    blocked: int = 4  # prompts with the blocked word
    task_seconds: float = 1.0
    task_jitter: float = 0.3
    error_rate: float = 0.10
    drop_rate: float = 0.05
    fail_rate: float = 0.03
    slow_rate: float = 0.05  # API answers held back slow_seconds (a slow link)
    slow_seconds: float = 1.0
    drip_rate: float = 0.05  # result downloads that drip (4 KB every 0.1 s)
    link_ttl: float = 3.0
    rpm: int | None = None  # POST limit per minute (a 429 then pauses everything)
    bursts: int = 4  # bursts of 429 on both routes during the run
    burst_size: int = 3
    burst_every: float = 1.5
    poll_interval: float = 0.1
    max_poll_interval: float = 1.0
    first_poll_delay: float = 0.1
    guard: float = 900.0  # bounds every wait (a hang guard, not a time budget)
    download_dir: str | None = None  # default: ./hailuo_videos
    api_key: str | None = None  # default: a fresh unique key (then searched for in files)


@dataclass
class SoakReport:
    config: SoakConfig
    wall: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    stats: dict = field(default_factory=dict)
    tasks_created: int = 0
    with_id: int = 0
    uncertain: int = 0
    uncertain_created: int = 0
    raised: Counter = field(default_factory=Counter)  # exceptions generate() raised
    polls: int = 0
    phases: dict = field(default_factory=dict)  # phase → seconds
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def saw(self, outcome: str) -> int:
        return sum(n for key, n in self.outcomes.items() if key.startswith(outcome))

    def table(self) -> str:
        cfg = self.config
        lines = [
            f"hailuo_nb soak — {cfg.tasks} tasks, seed {cfg.seed}, max_in_flight "
            f"{cfg.max_in_flight}, task {cfg.task_seconds:g} s, link ttl {cfg.link_ttl:g} s",
            f"faults: 5xx {cfg.error_rate:.0%}, dropped {cfg.drop_rate:.0%}, slow "
            f"{cfg.slow_rate:.0%} ({cfg.slow_seconds:g} s), dripping downloads "
            f"{cfg.drip_rate:.0%}, failed "
            f"{cfg.fail_rate:.0%}, blocked prompts {cfg.blocked}, 429 bursts "
            f"{cfg.bursts}x{cfg.burst_size}, rpm {cfg.rpm or '-'}",
            "",
            f"{'outcome':<48}{'tasks':>7}",
        ]
        for key, n in sorted(self.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"{key:<48}{n:>7}")
        lines.append(f"{'total':<48}{sum(self.outcomes.values()):>7}")
        lines += ["", f"{'requests (emulator)':<48}{'count':>7}"]
        for route, n in sorted(self.stats.get("by_route", {}).items()):
            if n:
                lines.append(f"{route:<48}{n:>7}")
        for status, n in sorted(self.stats.get("by_status", {}).items()):
            lines.append(f"{'  answered ' + status:<48}{n:>7}")
        answered = sum(self.stats.get("by_status", {}).values())
        dropped = self.stats.get("requests", 0) - answered
        lines.append(f"{'  dropped (no answer)':<48}{dropped:>7}")
        lines += [
            "",
            f"tasks created on the emulator: {self.tasks_created} = {self.with_id} with an id"
            f" + {self.uncertain_created} of {self.uncertain} submission_uncertain",
            f"polls: {self.polls}; generate() raised: "
            + (", ".join(f"{k} x{n}" for k, n in sorted(self.raised.items())) or "none"),
            f"wall time: {self.wall:.1f} s ("
            + ", ".join(f"{k} {s:.1f} s" for k, s in self.phases.items()) + ")",
            "",
        ]
        if self.violations:
            lines.append(f"VIOLATIONS ({len(self.violations)}):")
            lines += [f"  - {v}" for v in self.violations]
        else:
            lines.append("violations: none")
        return "\n".join(lines)


class _ErrorLog(logging.Handler):
    """Every hailuo_nb log record at ERROR or above (the poller's bug net)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tag(text: str | None) -> int | None:
    match = TAG_RE.search(text or "")
    return int(match.group(1)) if match else None


def _prompts(cfg: SoakConfig) -> list[str]:
    rng = random.Random(cfg.seed)
    blocked = set(rng.sample(range(cfg.tasks), min(cfg.blocked, cfg.tasks)))
    scenes = ["a paper boat drifts down a rainy gutter", "a fox trots through fresh snow",
              "a lighthouse at dusk, waves below", "neon rain on a night market"]
    cameras = ["", " [Pan left]", " [Push in]", " [Tracking shot]", " [Zoom out,Tilt up]"]
    out = []
    for i in range(cfg.tasks):
        text = f"soak-{i:05d} {rng.choice(scenes)}"
        if i in blocked:
            text += f" ({BLOCKED_WORD})"
        out.append(text + rng.choice(cameras))
    return out


def _emulator_tasks(emu) -> dict[str, dict]:
    """Every task the emulator created: id → its prompt and outcome (read under its lock)."""
    state = emu._state  # the emulator has no public listing; this is a benchmark
    with state.lock:
        return {tid: {"prompt": t.body.get("prompt"), "outcome": t.outcome}
                for tid, t in state.tasks.items()}


def _run_child(prompts: list[str], folder: Path, key: str, emu, guard: float) -> str:
    """Submit ``prompts`` from a child process and kill it once all are on record."""
    from hailuo_nb._pure.paths import hailuo_home

    env = {k: v for k, v in os.environ.items()
           if k not in ("EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL")}
    env.update(EVOLINK_API_KEY=key, HAILUO_BASE_URL=emu.base_url,
               HAILUO_FILES_URL=emu.files_url, HAILUO_HOME=str(hailuo_home()),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(prompts), str(folder), str(guard)],
        env=env, cwd=os.getcwd(), stdout=subprocess.PIPE, text=True,
    )
    try:
        line = (proc.stdout.readline() or "").strip()  # the child bounds its own wait
    finally:
        proc.kill()  # the "kernel" dies
        proc.wait()
        proc.stdout.close()
    return line


def _chaos(emu, cfg: SoakConfig, stop: threading.Event) -> None:
    """429 bursts on both routes now and then, and a few failing media requests."""
    for i in range(cfg.bursts):
        if stop.wait(cfg.burst_every):
            return
        emu.inject(POST, "429", cfg.burst_size)
        emu.inject(GET, "429", cfg.burst_size)
        if i == 0:
            emu.inject(MEDIA, "503", 2)
            emu.inject(MEDIA, "drop_before", 2)


def _wait(tasks, guard: float, report: SoakReport, what: str) -> None:
    import hailuo_nb
    from hailuo_nb.errors import TaskTimeoutError

    try:
        hailuo_nb.wait_all(tasks, timeout=guard)
    except TaskTimeoutError:
        stuck = [f"{t.id or t.local_id}:{t.status}/{t.download_state}"
                 for t in tasks if not t.is_done]
        report.violations.append(f"{what}: {len(stuck)} task(s) not done after "
                                 f"{guard:g} s: {stuck[:10]}")


def run_soak(cfg: SoakConfig | None = None) -> SoakReport:
    """Run the soak in this process (history at $HAILUO_HOME, videos in download_dir)."""
    import hailuo_nb
    from hailuo_nb._engine import scheduler
    from hailuo_nb._history.store import default_store
    from hailuo_nb._pure.paths import hailuo_home
    from hailuo_nb.emulator import Emulator
    from hailuo_nb.errors import HailuoError
    from hailuo_nb.settings import settings

    cfg = cfg or SoakConfig()
    if cfg.crashed + cfg.singles >= cfg.tasks:
        raise ValueError("tasks must exceed crashed + singles")
    report = SoakReport(config=cfg)
    key = cfg.api_key or f"sk-soak-{uuid.uuid4().hex}"
    folder = Path(cfg.download_dir or "hailuo_videos").expanduser().resolve()
    prompts = _prompts(cfg)
    crash_prompts = prompts[: cfg.crashed]
    single_prompts = prompts[cfg.crashed: cfg.crashed + cfg.singles]
    batch_prompts = prompts[cfg.crashed + cfg.singles:]

    saved = {n: getattr(settings, n) for n in ("poll_interval", "max_poll_interval",
                                               "first_poll_delay")}
    settings.poll_interval = cfg.poll_interval
    settings.max_poll_interval = cfg.max_poll_interval
    settings.first_poll_delay = cfg.first_poll_delay
    errors = _ErrorLog()
    logging.getLogger("hailuo_nb").addHandler(errors)
    emu = Emulator(task_seconds=cfg.task_seconds, task_jitter=cfg.task_jitter, seed=cfg.seed,
                   render=False,  # one sample file: every download is checked against its sha256
                   error_rate=cfg.error_rate, drop_rate=cfg.drop_rate, fail_rate=cfg.fail_rate,
                   slow_rate=cfg.slow_rate, slow_seconds=cfg.slow_seconds,
                   drip_rate=cfg.drip_rate, link_ttl=cfg.link_ttl, rpm=cfg.rpm).start()
    stop = threading.Event()
    chaos = threading.Thread(target=_chaos, args=(emu, cfg, stop), name="soak-chaos",
                             daemon=True)
    client = hailuo_nb.Client(api_key=key, base_url=emu.base_url, files_url=emu.files_url)
    started = time.monotonic()
    try:
        # Certain coverage whatever the dice say: one dropped POST, one 500 on a POST.
        emu.inject(POST, "drop_after", 1)
        emu.inject(POST, "500", 1)

        # 1. A child kernel submits, then dies before it polls.
        line = _run_child(crash_prompts, folder, key, emu, cfg.guard)
        killed_at = time.monotonic()
        report.phases["child kernel"] = killed_at - started
        if line != "READY":
            report.violations.append(f"child kernel did not get its tasks on record: {line!r}")
        store = default_store()
        crash_rows = [r for r in store.all() if _tag((r.get("request") or {}).get("prompt"))
                      in range(cfg.crashed)]
        alive = [r for r in crash_rows if r["task_id"] and r["status"] != "failed"]
        early_rows, late_rows = alive[: len(alive) // 2], alive[len(alive) // 2:]

        # 2. The main batch, a few generate() calls, and half the child's tasks resumed.
        chaos.start()
        batch = hailuo_nb.generate_many(batch_prompts, max_in_flight=cfg.max_in_flight,
                                        client=client, download_dir=folder)
        poller = scheduler.get_poller()
        first_thread = poller.thread
        early = []
        for row in early_rows:
            early += hailuo_nb.resume(row["task_id"], client=client)
        singles = []
        for prompt in single_prompts:
            try:
                singles.append(hailuo_nb.generate(prompt, client=client, download_dir=folder))
            except HailuoError as exc:  # on record as failed; the reason is checked below
                report.raised[type(exc).__name__] += 1
            time.sleep(cfg.task_seconds / 4)
        _wait([*batch, *singles, *early], cfg.guard, report, "main run")
        report.phases["main run"] = time.monotonic() - killed_at

        # 3. After the links of the child's other tasks have expired: resume everything.
        mark = time.monotonic()
        expire_at = killed_at + cfg.task_seconds * (1 + cfg.task_jitter) + cfg.link_ttl + 0.5
        time.sleep(max(0.0, expire_at - time.monotonic()))
        late = hailuo_nb.resume(client=client)
        _wait(late, cfg.guard, report, "late resume")
        report.phases["late resume"] = time.monotonic() - mark
        stop.set()
        chaos.join()
        report.wall = time.monotonic() - started

        objects = [*batch, *singles, *early, *late]
        _check(report, cfg, emu, store, objects, folder, key, poller, first_thread,
               {r["task_id"] for r in late_rows})
        report.polls = poller.polls
    finally:
        stop.set()
        emu.stop()
        client.close()
        logging.getLogger("hailuo_nb").removeHandler(errors)
        for name, value in saved.items():
            setattr(settings, name, value)
    for record in errors.records:
        report.violations.append(f"logged at {record.levelname}: {record.getMessage()} "
                                 f"{record.exc_text or ''}".strip())
    assert hailuo_home()  # the history the checks read is $HAILUO_HOME's
    return report


def _check(report, cfg, emu, store, objects, folder, key, poller, first_thread,
           late_ids) -> None:
    v = report.violations
    rows = store.all()
    emu_tasks = _emulator_tasks(emu)
    expected_sha = emu.video_sha256
    report.stats = emu.stats
    report.tasks_created = report.stats["tasks_created"]

    by_local = {}
    for task in objects:  # the last object per local id is the one that settled it
        by_local[task.local_id] = task

    # -- every task on record, terminal, with a reason ---------------------------------
    if len(rows) != cfg.tasks:
        v.append(f"history has {len(rows)} rows for {cfg.tasks} requests")
    tags = Counter(_tag((r.get("request") or {}).get("prompt")) for r in rows)
    if set(tags) != set(range(cfg.tasks)) or max(tags.values(), default=0) > 1:
        v.append(f"history rows do not map one-to-one to the {cfg.tasks} prompts")
    row_by_tag = {_tag((r.get("request") or {}).get("prompt")): r for r in rows}
    for row in rows:
        name = row["task_id"] or row["local_id"]
        status = row["status"]
        task = by_local.get(row["local_id"])
        if status not in ("completed", "failed"):
            v.append(f"{name}: ended {status!r}, not completed or failed")
            continue
        if status == "failed":
            code, message = row.get("error_code"), row.get("error_message")
            if not code or not (message or "").strip():
                v.append(f"{name}: failed without a code and message ({code!r}, {message!r})")
            outcome = emu_tasks.get(row["task_id"], {}).get("outcome")
            if code in PROVIDER_CODES:
                if outcome != code:
                    v.append(f"{name}: failed {code} but the emulator says {outcome!r}")
                report.outcomes[f"failed: {code} (provider)"] += 1
            elif code in LOCAL_CODES and not row["task_id"]:
                report.outcomes[f"failed: {code} (local)"] += 1
            else:
                v.append(f"{name}: unexpected failure {code!r}: {message!r}")
                report.outcomes[f"failed: {code} (unexpected)"] += 1
            continue
        # completed
        if emu_tasks.get(row["task_id"], {}).get("outcome") != "completed":
            v.append(f"{name}: completed here but not on the emulator")
        if row.get("local_path"):
            path = Path(row["local_path"])
            if path.parent != folder:
                v.append(f"{name}: saved outside the download folder: {path}")
            if not path.is_file():
                v.append(f"{name}: local_path {path} does not exist")
                continue
            if _sha256(path) != expected_sha:
                v.append(f"{name}: {path.name} has the wrong sha256")
            sidecar = path.with_suffix(".json")
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                v.append(f"{name}: sidecar unreadable: {exc}")
            else:
                if meta.get("sha256") != expected_sha or meta.get("task_id") != row["task_id"]:
                    v.append(f"{name}: sidecar disagrees with the file")
            report.outcomes["completed, saved (sha256 ok)"] += 1
        else:
            why = task.download_error if task is not None else ""
            if "expired" not in why:
                v.append(f"{name}: completed, not on disk, and no expired-link reason "
                         f"({why!r})")
            kind = "resumed late" if row["task_id"] in late_ids else "raced"
            report.outcomes[f"completed, link expired ({kind})"] += 1
        if task is None:
            v.append(f"{name}: completed but no Task object followed it")

    # -- Task objects agree with the history ---------------------------------------------
    for task in by_local.values():
        row = store.get(task.local_id)
        if row is None:
            v.append(f"{task.id or task.local_id}: a Task with no history row")
            continue
        seen = (task.status, task.id or None, task.local_path)
        kept = (row["status"], row["task_id"], row["local_path"])
        if seen != kept:
            v.append(f"{task.id or task.local_id}: task says {seen}, history says {kept}")

    # -- exactly once ------------------------------------------------------------------
    per_tag = Counter(_tag(t["prompt"]) for t in emu_tasks.values())
    twice = sorted(t for t, n in per_tag.items() if n > 1)
    if twice:
        v.append(f"prompts created more than once on the emulator: {twice[:10]}")
    known = {r["task_id"] for r in rows if r["task_id"]}
    report.with_id = len(known)
    report.uncertain = sum(1 for r in rows if r.get("error_code") == "submission_uncertain")
    for tid, info in emu_tasks.items():
        if tid in known:
            row = store.by_task_id(tid)
            if _tag((row.get("request") or {}).get("prompt")) != _tag(info["prompt"]):
                v.append(f"{tid}: the history row is for another prompt")
            continue
        row = row_by_tag.get(_tag(info["prompt"]))
        if row is None or row.get("error_code") != "submission_uncertain":
            v.append(f"{tid}: created on the emulator but missing from the history "
                     f"(row: {row and (row['status'], row.get('error_code'))})")
        else:
            report.uncertain_created += 1
    if known - set(emu_tasks):
        v.append(f"ids in the history the emulator never made: {sorted(known - set(emu_tasks))}")
    if report.tasks_created != report.with_id + report.uncertain_created:
        v.append(f"tasks_created {report.tasks_created} != {report.with_id} with an id + "
                 f"{report.uncertain_created} uncertain")
    if cfg.rpm is None and report.uncertain_created != report.uncertain:
        # Without an rpm limit every dropped POST reached create_task (drop_after).
        v.append(f"{report.uncertain} submission_uncertain but only "
                 f"{report.uncertain_created} created on the emulator")

    # -- the poller ----------------------------------------------------------------------
    pollers = [t for t in threading.enumerate() if t.name == "hailuo-poller" and t.is_alive()]
    if not poller.is_alive():
        v.append("the poller thread is dead")
    if len(pollers) != 1:
        v.append(f"{len(pollers)} poller threads alive")
    if poller.thread is not first_thread:
        v.append("the poller thread was replaced during the run (it died once)")
    from hailuo_nb._engine.downloads import DOWNLOAD_WORKERS
    from hailuo_nb._engine.scheduler import POLL_WORKERS

    downloaders = [t for t in threading.enumerate() if t.name.startswith("hailuo-downloader")]
    if len(downloaders) > DOWNLOAD_WORKERS:
        v.append(f"{len(downloaders)} downloader threads (bound {DOWNLOAD_WORKERS})")
    workers = [t for t in threading.enumerate() if t.name.startswith("hailuo-poll_")]
    if len(workers) > POLL_WORKERS:
        v.append(f"{len(workers)} poll workers (bound {POLL_WORKERS})")
    if poller.live_count():
        v.append(f"the poller still follows {poller.live_count()} task(s)")

    # -- files ---------------------------------------------------------------------------
    from hailuo_nb._pure.paths import hailuo_home

    for path in folder.iterdir() if folder.exists() else ():
        if path.name.startswith(".part-") or path.suffix not in (".mp4", ".json"):
            v.append(f"stray file in the download folder: {path.name}")
    needle = key.encode()
    for root in (hailuo_home(), folder):
        for path in root.rglob("*"):
            if path.is_file() and needle in path.read_bytes():
                v.append(f"the API key is written in {path}")


def main(argv: list[str] | None = None) -> int:
    defaults = SoakConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=defaults.tasks)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--max-in-flight", type=int, default=defaults.max_in_flight)
    p.add_argument("--task-seconds", type=float, default=defaults.task_seconds)
    p.add_argument("--link-ttl", type=float, default=defaults.link_ttl)
    p.add_argument("--rpm", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work folder and print it")
    args = p.parse_args(argv)
    cfg = SoakConfig(tasks=args.tasks, seed=args.seed, max_in_flight=args.max_in_flight,
                     task_seconds=args.task_seconds, link_ttl=args.link_ttl, rpm=args.rpm)
    work = Path(tempfile.mkdtemp(prefix="hailuo-soak-"))
    os.environ["HAILUO_HOME"] = str(work / "home")
    for name in ("EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL"):
        os.environ.pop(name, None)
    os.chdir(work)
    try:
        report = run_soak(cfg)
        print(report.table())
    finally:
        os.chdir(ROOT)
        if args.keep:
            print(f"work folder: {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok else 1

