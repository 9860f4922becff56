"""``Choice``: pick one of a few options, any of which can be greyed with a reason.

``ToggleButtons`` cannot disable one option (only hide it, which makes the row jump),
so this is one ``ToggleButton`` per option kept exclusive here: a greyed option stays
in place, disabled, its reason in the tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as W
import traitlets as T
from ipywidgets.widgets.widget_bool import ToggleButtonStyle


class Choice(W.HBox):
    """``Choice([(label, value), ...], value, description)``; ``value`` is the option
    chosen; ``grey({value: reason})`` greys exactly those options (a greyed value cannot
    be set: TraitError, so an impossible pair is never even built)."""

    value = T.Any()

    def __init__(self, options: Sequence[tuple[str, Any]], value: Any, description: str,
                 *, button_width: str = "70px", label_width: str = "60px", **kwargs: Any):
        self._options = tuple((str(label), v) for label, v in options)
        self._reasons: dict[Any, str] = {}
        self._syncing = False
        style = ToggleButtonStyle()  # one shared model, not one per button
        self.buttons: dict[Any, W.ToggleButton] = {}
        for label, v in self._options:
            button = W.ToggleButton(description=label, value=False, style=style,
                                    layout=W.Layout(width=button_width, margin="0 2px 0 0"))
            button.observe(self._clicked(v), names="value")
            self.buttons[v] = button
        self.label = W.Label(description, layout=W.Layout(width=label_width, min_width="0"))
        kwargs.setdefault("layout", W.Layout(width="auto", align_items="center"))
        super().__init__([self.label, *self.buttons.values()], **kwargs)
        self.value = value

    @property
    def options(self) -> tuple[tuple[str, Any], ...]:
        return self._options

    @property
    def reasons(self) -> dict[Any, str]:
        """The greyed options and why (value → reason)."""
        return dict(self._reasons)

    @T.validate("value")
    def _check(self, proposal: dict) -> Any:
        v = proposal["value"]
        if v not in self.buttons:
            raise T.TraitError(f"{v!r} is not one of {[o for _, o in self._options]}")
        if v in self._reasons:
            raise T.TraitError(self._reasons[v])
        return v

    @T.observe("value")
    def _chosen(self, _change: dict) -> None:
        self._press()

    def grey(self, reasons: Mapping[Any, str]) -> None:
        """Grey exactly the options in ``reasons`` (the chosen one must not be among them)."""
        self._reasons = {v: r for v, r in reasons.items() if v in self.buttons}
        for v, button in self.buttons.items():
            with button.hold_sync():
                button.disabled = v in self._reasons
                button.tooltip = self._reasons.get(v, "")

    def _press(self) -> None:
        """Show the chosen option pressed, every other one released."""
        self._syncing = True
        try:
            for v, button in self.buttons.items():
                button.value = v == self.value
        finally:
            self._syncing = False

    def _clicked(self, v: Any):
        def clicked(change: dict) -> None:
            if self._syncing:
                return
            if change["new"] and v not in self._reasons:
                self.value = v
            # A click on the chosen one (a toggle releases it) or on a greyed one that
            # raced its greying: snap back to what is chosen.
            self._press()
        return clicked
