"""hailuo_nb: MiniMax Hailuo 2.3 video generation (evolink.ai API) from Jupyter.

    %load_ext hailuo_nb
    %%hailuo -q 768p -d 6
    A red fox runs through snow [Tracking shot]

or from Python: ``hailuo_nb.generate("A red fox ...", wait=True)``.
Importing this package is light: widgets and IPython load only when used.
"""

from ._version import __version__
from .api import (
    generate,
    generate_many,
    history,
    live_tasks,
    queue_generation,
    resume,
    wait_all,
)
from .client import Client
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    HailuoError,
    InsufficientQuotaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    TaskFailedError,
    TaskTimeoutError,
    TransportError,
    ValidationError,
)
from .request import GenerationRequest
from .settings import settings
from .snapshot import TaskFailure, TaskSnapshot
from .task import DownloadError, Task

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "DownloadError",
    "GenerationRequest",
    "HailuoError",
    "InsufficientQuotaError",
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
    "generate",
    "generate_many",
    "history",
    "live_tasks",
    "load_ipython_extension",
    "queue_generation",
    "resume",
    "settings",
    "unload_ipython_extension",
    "wait_all",
]


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython
    """``%load_ext hailuo_nb``: register the magics (and resume unfinished tasks)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
