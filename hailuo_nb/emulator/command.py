"""The emulator's command line: ``hailuo-nb emulator`` and ``python -m hailuo_nb.emulator``
share these options and this loop."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import Emulator


def add_emulator_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The emulator's options (shared by ``hailuo-nb emulator`` and
    ``python -m hailuo_nb.emulator``)."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY",
                   help="accept only these keys (repeatable; default: any non-empty key)")
    p.add_argument("--quota-key", action="append", default=[], metavar="KEY",
                   help="answer these keys with 402 insufficient quota (repeatable)")
    p.add_argument("--task-seconds", type=float, default=4.0, metavar="S",
                   help="time from submission to a finished video (default 4)")
    p.add_argument("--task-jitter", type=float, default=0.0, metavar="F",
                   help="± fraction of --task-seconds, seeded (default 0)")
    p.add_argument("--seed", type=int, default=0, help="makes ids and faults reproducible")
    p.add_argument("--rpm", type=int, default=None, metavar="N",
                   help="per-key submissions per minute before 429 (default: no limit)")
    p.add_argument("--rpm-get", type=int, default=None, metavar="N",
                   help="per-key task queries per minute before 429 (default: no limit)")
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="F",
                   help="fraction of tasks failing with service_error")
    p.add_argument("--blocked-word", action="append", default=None, metavar="W",
                   help="prompts containing it fail with content_policy_violation "
                        "(repeatable; default: nsfw)")
    p.add_argument("--error-rate", type=float, default=0.0, metavar="F",
                   help="fraction of API requests answered 500/502/503")
    p.add_argument("--drop-rate", type=float, default=0.0, metavar="F",
                   help="fraction of API requests whose connection is dropped "
                        "(submissions after the task is created)")
    p.add_argument("--slow-rate", type=float, default=0.0, metavar="F",
                   help="fraction of API requests answered only after --slow-seconds")
    p.add_argument("--slow-seconds", type=float, default=1.0, metavar="S")
    p.add_argument("--drip-rate", type=float, default=0.0, metavar="F",
                   help="fraction of result downloads sent slowly (4 KB every 0.1 s)")
    p.add_argument("--link-ttl", type=float, default=86400.0, metavar="S",
                   help="seconds a result link lives after completion (default 24 h)")
    p.add_argument("--upload-ttl", type=float, default=259200.0, metavar="S",
                   help="seconds an uploaded image lives (default 72 h)")
    p.add_argument("--max-tasks", type=int, default=100_000, metavar="N",
                   help="tasks remembered; past this the oldest is forgotten")
    p.add_argument("--max-files", type=int, default=100, metavar="N",
                   help="live uploaded files allowed; one more is refused with the files "
                        "API's quota error 40003 (default 100)")
    p.add_argument("--video-file", default=None, metavar="PATH",
                   help="serve this file as every result (default: a clip rendered to match "
                        "each request's duration, quality and camera commands)")
    p.add_argument("--no-render", dest="render", action="store_false",
                   help="serve the small sample MP4 as every result instead of rendered clips")
    p.add_argument("--public-url", default=None, metavar="URL",
                   help="base of the links it hands out, when clients reach it by another "
                        "name than http://HOST:PORT")
    p.add_argument("--verbose", action="store_true",
                   help="log method, path and status of each request (never headers or keys)")
    p.add_argument("--ignore-camera-word", action="append", default=[], metavar="W",
                   help="a prompt holding W ignores its camera commands (repeatable)")
    p.add_argument("--ignore-camera-rate", type=float, default=0.0, metavar="F",
                   help="share of tasks that ignore their camera commands (seeded)")
    p.add_argument("--ignore-camera", choices=("static", "opposite"), default="static",
                   help="how a task that ignores its commands moves (default static)")
    p.add_argument("--black-seconds", type=float, default=0.0, metavar="S",
                   help="every clip opens with S seconds of black")
    p.add_argument("--frozen-seconds", type=float, default=0.0, metavar="S",
                   help="every clip holds its middle frame for S seconds")
    return p



def emulator_config(args: argparse.Namespace) -> dict:
    """EmulatorConfig fields from parsed emulator options."""
    return dict(
        host=args.host, port=args.port, api_keys=tuple(args.api_key),
        quota_keys=tuple(args.quota_key), task_seconds=args.task_seconds,
        task_jitter=args.task_jitter, seed=args.seed, rpm=args.rpm, rpm_get=args.rpm_get,
        fail_rate=args.fail_rate,
        blocked_words=tuple(args.blocked_word) if args.blocked_word else ("nsfw",),
        error_rate=args.error_rate, drop_rate=args.drop_rate, slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds, drip_rate=args.drip_rate, link_ttl=args.link_ttl,
        upload_ttl=args.upload_ttl,
        max_tasks=args.max_tasks, max_files=getattr(args, "max_files", 100),
        video_path=args.video_file, public_url=args.public_url,
        verbose=args.verbose, render=getattr(args, "render", True),
        ignore_camera_words=tuple(getattr(args, "ignore_camera_word", ())),
        ignore_camera_rate=getattr(args, "ignore_camera_rate", 0.0),
        ignore_camera=getattr(args, "ignore_camera", "static"),
        black_seconds=getattr(args, "black_seconds", 0.0),
        frozen_seconds=getattr(args, "frozen_seconds", 0.0),
    )


def run_emulator(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (or SIGTERM). Prints the URL, never a key."""
    try:
        emu = Emulator(**emulator_config(args))
        emu.start()
    except (TypeError, ValueError) as exc:
        print(f"hailuo-nb emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hailuo-nb emulator: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    url = emu.base_url
    keys = "one of the --api-key keys" if args.api_key else "any non-empty key"
    print(f"Hailuo emulator listening on {url}", flush=True)
    print(f"export HAILUO_BASE_URL={url} HAILUO_FILES_URL={url}  "
          f"# points hailuo_nb at it; EVOLINK_API_KEY: {keys}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        # SIGINT too: a process started from a background job inherits it ignored, and
        # "Press Ctrl-C to stop" must hold there as well.
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Emulator stopped.", flush=True)
    return 0
