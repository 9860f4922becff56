"""``hailuo-nb``: the command line (the emulator, the demo)."""

from __future__ import annotations

import argparse
import sys


def _emulator_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "emulator",
        help="run a local emulator of the Hailuo 2.3 video service",
        description="A local, offline stand-in for the evolink.ai Hailuo 2.3 API.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY",
                   help="accept only these keys (repeatable; default: any non-empty key)")
    p.add_argument("--quota-key", action="append", default=[], metavar="KEY",
                   help="answer these keys with 402 insufficient quota (repeatable)")
    p.add_argument("--task-seconds", type=float, default=4.0, metavar="S",
                   help="time from submission to a finished video (default 4)")
    p.add_argument("--task-jitter", type=float, default=0.0, metavar="F")
    p.add_argument("--seed", type=int, default=0, help="makes ids and faults reproducible")
    p.add_argument("--rpm", type=int, default=None, metavar="N",
                   help="per-key submissions per minute before 429 (default: no limit)")
    p.add_argument("--rpm-get", type=int, default=None, metavar="N",
                   help="per-key task queries per minute before 429")
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="F",
                   help="fraction of tasks failing with service_error")
    p.add_argument("--blocked-word", action="append", default=None, metavar="W",
                   help="prompts containing it fail with content_policy_violation "
                        "(repeatable; default: nsfw)")
    p.add_argument("--error-rate", type=float, default=0.0, metavar="F",
                   help="fraction of API requests answered 500/502/503")
    p.add_argument("--drop-rate", type=float, default=0.0, metavar="F",
                   help="fraction of API requests whose connection is dropped")
    p.add_argument("--slow-rate", type=float, default=0.0, metavar="F")
    p.add_argument("--slow-seconds", type=float, default=1.0, metavar="S")
    p.add_argument("--link-ttl", type=float, default=86400.0, metavar="S",
                   help="seconds a result link lives after completion (default 24 h)")
    p.add_argument("--video-file", default=None, metavar="PATH",
                   help="serve this file as every result (default: a small sample MP4)")
    p.add_argument("--verbose", action="store_true", help="log request lines (never keys)")
    p.set_defaults(handler=_run_emulator)


def _run_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator

    emu = Emulator(
        host=args.host, port=args.port, api_keys=tuple(args.api_key),
        quota_keys=tuple(args.quota_key), task_seconds=args.task_seconds,
        task_jitter=args.task_jitter, seed=args.seed, rpm=args.rpm, rpm_get=args.rpm_get,
        fail_rate=args.fail_rate,
        blocked_words=tuple(args.blocked_word) if args.blocked_word else ("nsfw",),
        error_rate=args.error_rate, drop_rate=args.drop_rate, slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds, link_ttl=args.link_ttl, video_path=args.video_file,
        verbose=args.verbose,
    )
    emu.start()
    url = emu.base_url
    print(f"Hailuo emulator listening on {url}", flush=True)
    print(f"Point hailuo_nb at it: export HAILUO_BASE_URL={url} HAILUO_FILES_URL={url} "
          "EVOLINK_API_KEY=<any non-empty key>", flush=True)
    try:
        while True:
            emu._thread.join(3600)
    except KeyboardInterrupt:
        print("Emulator stopped.", flush=True)
    finally:
        emu.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hailuo-nb", description="MiniMax Hailuo 2.3 video generation for Jupyter."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _emulator_parser(subparsers)
    try:
        from .demo import add_subparser as add_demo
    except ImportError:  # the demo needs the 'notebook' extra only when run
        add_demo = None
    if add_demo is not None:
        add_demo(subparsers)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
