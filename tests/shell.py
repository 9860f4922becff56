"""A real IPython ``InteractiveShell`` for tests (modelled on jupysql's ``_testing.py``).

History is off (no SQLite file, no saving thread). ``shell.run(code)`` runs one cell
and returns what it printed and displayed; any exception other than ``UsageError`` is
re-raised so a test fails with the real traceback. A ``UsageError`` is kept on the
result (``.error``) together with what IPython printed for it (``.stderr``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config


@dataclass
class CellRun:
    """``result, stdout, stderr, outputs = shell.run(code)``; ``.error`` for a UsageError."""

    result: Any
    stdout: str
    stderr: str
    outputs: list[dict] = field(default_factory=list)
    error: BaseException | None = None
    late: list[dict] = field(default_factory=list)  # updates of earlier cells' displays

    def __iter__(self):
        return iter((self.result, self.stdout, self.stderr, self.outputs))

    @property
    def text(self) -> str:
        """Everything a reader would see: stdout, stderr and every displayed mimetype."""
        parts = [self.stdout, self.stderr]
        for out in self.outputs:
            for value in (out.get("data") or {}).values():
                parts.append(value if isinstance(value, str) else repr(value))
        return "\n".join(parts)


class TestingShell(InteractiveShell):
    """An InteractiveShell whose cells report their output instead of printing it."""

    __test__ = False  # not a test class, despite the name

    @classmethod
    def create(cls, **config_overrides: Any) -> TestingShell:
        config = Config()
        config.HistoryAccessor.enabled = False  # no history database (nor its thread)
        config.InteractiveShell.colors = "NoColor"
        config.InteractiveShell.xmode = "Plain"
        for dotted, value in config_overrides.items():
            section, name = dotted.split(".")
            setattr(getattr(config, section), name, value)
        if InteractiveShell.initialized():
            InteractiveShell.clear_instance()
        return cls.instance(config=config)

    def run(self, code: str) -> CellRun:
        with capture_output(stdout=True, stderr=True, display=True) as captured:
            result = self.run_cell(code, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None and not isinstance(error, UsageError):
            raise error
        outputs, late, made_here = [], [], set()
        for out in captured.outputs:
            shown = {"data": out.data, "metadata": out.metadata,
                     "transient": getattr(out, "transient", None),
                     "update": getattr(out, "update", False)}
            display_id = (shown["transient"] or {}).get("display_id")
            # An update of a display an earlier cell made (an engine thread handing a live
            # view over to its record) changes THAT cell's output in a kernel: it is not an
            # output of this cell, whenever it happens to arrive.
            if shown["update"] and display_id not in made_here:
                late.append(shown)
                continue
            if display_id:
                made_here.add(display_id)
            outputs.append(shown)
        return CellRun(result.result, captured.stdout, captured.stderr, outputs, error, late)

    def close(self) -> None:
        """Forget this shell (the next ``create`` makes a new one)."""
        self.clear_instance()
