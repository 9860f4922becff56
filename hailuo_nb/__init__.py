"""hailuo_nb: MiniMax Hailuo 2.3 video generation (evolink.ai API) from Jupyter.

    %load_ext hailuo_nb
    %%hailuo -q 768p -d 6
    A red fox runs through snow [Tracking shot]

or from Python: ``hailuo_nb.generate("A red fox ...", wait=True)``.
Importing this package is light: widgets and IPython load only when used.
"""

from ._version import __version__

# Names resolve on first use (PEP 562), so `import hailuo_nb` stays cheap and a
# submodule (the emulator, say) can be imported without loading the whole client.
_EXPORTS = {
    "generate": "api", "generate_many": "api", "forget": "api", "history": "api",
    "live_tasks": "api",
    "queue_generation": "api", "resume": "api", "wait_all": "api",
    "report": "_presentation.report_page",
    "stitch": "_media.stitching", "camera_report": "_media.camera_motion",
    "camera_table": "_media.camera_motion", "quality_report": "_media.quality",
    "compare": "_presentation.compare", "export": "_presentation.export",
    "Client": "_client.client", "has_key": "_client.credentials",
    "GenerationRequest": "request",
    "settings": "settings",
    "TaskFailure": "_client.snapshot", "TaskSnapshot": "_client.snapshot",
    "Task": "task",
    **{name: "errors" for name in (
        "APIError", "AuthenticationError", "BadRequestError", "ContentError", "DeadlineError",
        "DownloadError",
        "FrameError", "HailuoError", "MissingAPIKeyError",
        "InsufficientQuotaError",
    "MissingAPIKeyError", "NotFoundError", "PermissionDeniedError", "RateLimitError",
        "RequestTooLargeError", "ServerError", "TaskFailedError", "TaskTimeoutError",
        "TransportError", "ValidationError",
    )},
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hailuo_nb' has no attribute {name!r}")
    import importlib

    _connect()
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ContentError",
    "DeadlineError",
    "DownloadError",
    "FrameError",
    "GenerationRequest",
    "HailuoError",
    "InsufficientQuotaError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "Task",
    "TaskFailedError",
    "TaskFailure",
    "TaskSnapshot",
    "TaskTimeoutError",
    "TransportError",
    "ValidationError",
    "__version__",
    "camera_report",
    "camera_table",
    "compare",
    "export",
    "forget",
    "generate",
    "generate_many",
    "has_key",
    "history",
    "live_tasks",
    "load_ipython_extension",
    "quality_report",
    "queue_generation",
    "report",
    "resume",
    "settings",
    "stitch",
    "unload_ipython_extension",
    "wait_all",
]


_connected = False


def _connect() -> None:
    """Wire the layers above the model into it, once, here and nowhere else.

    The model (``Task``) never imports what draws it or what makes new generations; this
    hands it both, explicitly, at first use of a public name or at ``%load_ext``: how a
    task shows (an IPython formatter in a running shell, ``_display_`` for marimo) and how
    ``continue_with`` makes its next shot. Importing a module never does it as a side effect.
    """
    global _connected
    if _connected:
        return
    _connected = True
    import sys

    from .task import Task

    Task.generator = staticmethod(_generate_next)
    Task._display_ = _marimo_view
    ipython_module = sys.modules.get("IPython")  # not imported here: no IPython, no shell
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    if shell is not None:
        from ._presentation.display import register_task_display

        register_task_display(shell)


def _generate_next(*args, **kwargs):
    from .api import generate

    return generate(*args, **kwargs)


def _marimo_view(task):
    """What marimo shows for a Task (marimo asks ``_display_``; IPython never does)."""
    from ._presentation.display import marimo_view

    return marimo_view(task)


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython
    """``%load_ext hailuo_nb``: register the magics (and resume unfinished tasks)."""
    from .magics import load_ipython_extension as _load

    _connect()
    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
