"""Views for tasks: ``TaskView`` and ``Gallery`` (one anywidget model each), ``GenerationForm``."""

from .form import GenerationForm
from .gallery import Gallery
from .task_view import TaskView

__all__ = ["Gallery", "GenerationForm", "TaskView"]
