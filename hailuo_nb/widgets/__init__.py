"""Views for tasks: ``TaskView``, ``GenerationForm``, ``Gallery`` (ipywidgets, no custom JS)."""

from .form import GenerationForm
from .gallery import Gallery
from .task_view import TaskView

__all__ = ["Gallery", "GenerationForm", "TaskView"]
