"""Camera commands: recognition, typos with suggestions, warnings, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hailuo_nb._pure import camera_lint
from hailuo_nb._pure.camera_lint import (
    CAMERA_COMMANDS,
    CAMERA_GROUPS,
    CameraGroup,
    LintIssue,
    PromptLint,
    lint_prompt,
    normalize_prompt,
)
from hailuo_nb.errors import ValidationError


def one_line(text: str) -> str:
    assert text and text.splitlines() == [text], f"not one line: {text!r}"
    return text


def kinds(issues) -> list[str]:
    return [issue.kind for issue in issues]


# ---------------------------------------------------------------------------- the tables


def _commands_in_the_contract() -> list[str]:
    """The bracketed commands the provider's OpenAPI prose lists, in its order."""
    import re
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[1] / "hailuo_nb" / "emulator" / "spec"
            / "video-generations.openapi.yaml").read_text(encoding="utf-8")
    listed = []
    for line in spec.splitlines():
        if re.match(r"\s*- \w+: `\[", line):  # "- Truck: `[Truck left]`, `[Truck right]`"
            listed += re.findall(r"`\[([^\]]+)\]`", line)
    return listed


def test_exactly_the_fifteen_commands_of_the_contract_in_order():
    assert len(CAMERA_COMMANDS) == 15
    assert list(CAMERA_COMMANDS) == _commands_in_the_contract()


def test_groups_cover_every_command_once_in_order():
    assert list(CAMERA_GROUPS) == [
        "Truck",
        "Pan",
        "Dolly",
        "Pedestal",
        "Tilt",
        "Zoom",
        "Special",
        "Follow",
        "Static",
    ]
    assert CAMERA_GROUPS["Dolly"] == ("Push in", "Pull out")
    flat = tuple(cmd for cmds in CAMERA_GROUPS.values() for cmd in cmds)
    assert flat == CAMERA_COMMANDS


# ---------------------------------------------------------------------------- recognition


def _spellings(cmd: str) -> list[str]:
    words = cmd.split()
    return [
        cmd,
        cmd.lower(),
        cmd.upper(),
        cmd.title(),
        cmd.swapcase(),
        "  " + cmd + "  ",
        "   ".join(words),
        "\t".join(words),
        "\n".join(words) + " ",
    ]


@pytest.mark.parametrize("cmd", CAMERA_COMMANDS)
def test_every_command_recognised_in_many_spellings(cmd):
    for spelling in _spellings(cmd):
        lint = lint_prompt(f"A scene [{spelling}] here.")
        assert lint.ok, (spelling, lint.errors)
        assert lint.commands == (cmd,)
        assert lint.normalized == f"A scene [{cmd}] here."
        assert lint.warnings == ()
        assert normalize_prompt(f"[{spelling}]") == f"[{cmd}]"


def test_examples_from_the_brief():
    assert lint_prompt("[pan LEFT]").normalized == "[Pan left]"
    assert lint_prompt("[ push in ,zoom out ]").normalized == "[Push in,Zoom out]"


def test_combined_bracket_keeps_order_and_uses_comma_without_space():
    lint = lint_prompt("Sunset [pan left, pedestal UP] over water")
    assert lint.ok and lint.commands == ("Pan left", "Pedestal up")
    assert lint.normalized == "Sunset [Pan left,Pedestal up] over water"
    (group,) = lint.groups
    assert group == CameraGroup(
        start=7, end=30, raw="[pan left, pedestal UP]", commands=("Pan left", "Pedestal up")
    )
    assert group.canonical == "[Pan left,Pedestal up]"
    assert lint.prompt[group.start : group.end] == group.raw


def test_sequential_brackets_in_text_order():
    prompt = "Slowly [push in], then quickly [PULL OUT] and finally [static shot]."
    lint = lint_prompt(prompt)
    assert lint.commands == ("Push in", "Pull out", "Static shot")
    assert lint.normalized == "Slowly [Push in], then quickly [Pull out] and finally [Static shot]."
    assert [g.raw for g in lint.groups] == ["[push in]", "[PULL OUT]", "[static shot]"]


def test_three_commands_are_fine_four_warn():
    assert lint_prompt("[Pan left,Zoom in,Tilt up]").warnings == ()
    lint = lint_prompt("[Pan left, Zoom in, Tilt up, Shake]")
    assert lint.ok
    assert kinds(lint.warnings) == ["too_many"]
    msg = one_line(lint.warnings[0].message)
    assert "4 camera commands" in msg and "at most 3" in msg
    assert lint.normalized == "[Pan left,Zoom in,Tilt up,Shake]"


def test_empty_parts_are_dropped():
    assert lint_prompt("[Pan left,,Zoom in,]").normalized == "[Pan left,Zoom in]"


def test_text_without_brackets_is_untouched():
    text = "A quiet lake at dawn, mist rising, birds — no camera words at all."
    lint = lint_prompt(text)
    assert lint.ok and lint.normalized == text and lint.groups == () and lint.warnings == ()


# ---------------------------------------------------------------------------- typos

TYPOS = [
    ("Pan lft", "Pan left"),
    ("Zoom-in", "Zoom in"),
    ("pan-left", "Pan left"),
    ("Tracking", "Tracking shot"),
    ("Static", "Static shot"),
    ("Push-in", "Push in"),
    ("zoomin", "Zoom in"),
    ("Pan rigth", "Pan right"),
    ("Tilt dwn", "Tilt down"),
    ("Tlit up", "Tilt up"),
    ("Pedastal up", "Pedestal up"),
    ("Pedestel dwon", "Pedestal down"),
    ("Trackng shot", "Tracking shot"),
    ("Tracking shoot", "Tracking shot"),
    ("Statc shot", "Static shot"),
    ("Static_shot", "Static shot"),
    ("Truck lefft", "Truck left"),
    ("truckright", "Truck right"),
    ("Pul out", "Pull out"),
    ("Pull-out", "Pull out"),
    ("Push inn", "Push in"),
    ("Zoom ot", "Zoom out"),
    ("Zooming", "Zoom in"),
    ("Pan left.", "Pan left"),
    ("Shaky", "Shake"),
    ("camera shake", "Shake"),
    ("dolly in", "Push in"),
    ("dolly out", "Pull out"),
    ("crane up", "Pedestal up"),
    ("pan up", "Tilt up"),
    ("tilt right", "Pan right"),
    ("Pan left slowly", "Pan left"),
    ("Static shot of the lake", "Static shot"),
]


@pytest.mark.parametrize(("typo", "suggestion"), TYPOS)
def test_typos_are_errors_with_the_closest_command(typo, suggestion):
    lint = lint_prompt(f"A fox runs [{typo}] through snow")
    assert not lint.ok
    (error,) = lint.errors
    assert error.kind == "unknown_command"
    assert error.suggestion == suggestion
    msg = one_line(error.message)
    assert f"[{typo}]" in msg and f"did you mean [{suggestion}]" in msg
    assert lint.first_error_message() == msg
    assert lint.prompt[error.start : error.end] == typo
    assert lint.groups == () and lint.commands == ()
    # Nothing is rewritten where something is wrong.
    assert lint.normalized == f"A fox runs [{typo}] through snow"
    with pytest.raises(ValidationError) as err:
        normalize_prompt(f"A fox runs [{typo}] through snow")
    assert str(err.value) == msg and err.value.field == "prompt"


def test_exact_message_of_the_brief():
    assert (
        lint_prompt("[Pan lft]").first_error_message()
        == "Unknown camera command [Pan lft] — did you mean [Pan left]?"
    )


@pytest.mark.parametrize(
    ("typo", "options"),
    [
        ("Zoom", ("Zoom in", "Zoom out")),
        ("Pan", ("Pan left", "Pan right")),
        ("Tilt", ("Tilt up", "Tilt down")),
        ("truck", ("Truck left", "Truck right")),
        ("dolly", ("Push in", "Pull out")),
    ],
)
def test_ambiguous_words_offer_both(typo, options):
    (error,) = lint_prompt(f"[{typo}]").errors
    assert error.suggestion == options[0]
    assert f"did you mean [{options[0]}] or [{options[1]}]?" in error.message


@pytest.mark.parametrize(
    ("inner", "suggestion"),
    [
        ("Pan left and zoom in", "Pan left,Zoom in"),
        ("pan left; zoom in", "Pan left,Zoom in"),
        ("panleftzoomin", "Pan left,Zoom in"),
        ("Push in / Tilt up", "Push in,Tilt up"),
        ("Pan left Pedestal up", "Pan left,Pedestal up"),
    ],
)
def test_run_together_commands_suggest_the_comma_form(inner, suggestion):
    (error,) = lint_prompt(f"[{inner}]").errors
    assert error.suggestion == suggestion
    assert f"[{suggestion}]" in one_line(error.message)


def test_mixed_bracket_names_the_bad_part():
    lint = lint_prompt("Go [Pan left, slowly]")
    (error,) = lint.errors
    assert error.suggestion is None
    assert lint.prompt[error.start : error.end] == "slowly"
    msg = one_line(error.message)
    assert "[slowly] in [Pan left, slowly]" in msg and "outside the brackets" in msg
    assert "Static shot" in msg  # lists the commands


def test_each_bad_part_reported():
    lint = lint_prompt("[Pan lft, Zoom-in] and [Tilt dwn]")
    assert [e.suggestion for e in lint.errors] == ["Pan left", "Zoom in", "Tilt down"]
    assert all(e.kind == "unknown_command" for e in lint.errors)


# ---------------------------------------------------------------------------- non-commands

NOT_COMMANDS = [
    "sic",
    "1",
    "a red hat",
    "Ed. note",
    "music",
    "laughs",
    "sunset",
    "citation needed",
    "fade in",
    "close-up",
    "wide shot",
    "slow motion",
    "snake",
    "shape",
    "planning",
    "sit down",
    "left",
    "in",
    "...",
    "?",
    "こんにちは",
    "x" * 300,
]


@pytest.mark.parametrize("inner", NOT_COMMANDS)
def test_ordinary_bracket_text_is_kept_with_a_warning(inner):
    prompt = f"She said [{inner}] and left."
    lint = lint_prompt(prompt)
    assert lint.ok, lint.errors
    assert lint.normalized == prompt
    assert lint.groups == ()
    (warning,) = lint.warnings
    assert warning.kind == "not_a_command"
    msg = one_line(warning.message)
    assert "not a camera command" in msg and "sent as text" in msg
    assert normalize_prompt(prompt) == prompt


def test_empty_brackets_warn():
    for prompt in ("[]", "a [ ] b", "[\t\n]"):
        lint = lint_prompt(prompt)
        assert lint.ok and lint.normalized == prompt
        assert kinds(lint.warnings) == ["empty"]
        one_line(lint.warnings[0].message)


def test_duplicate_and_contradiction_warn():
    lint = lint_prompt("[pan left, Pan Left]")
    assert lint.ok and kinds(lint.warnings) == ["duplicate"]
    assert "twice" in lint.warnings[0].message
    assert lint.normalized == "[Pan left,Pan left]"
    for pair in (
        "Pan left,Pan right",
        "Zoom in,Zoom out",
        "Push in,Pull out",
        "Tilt up,Tilt down",
        "Truck left,Truck right",
        "Pedestal up,Pedestal down",
        "Static shot,Pan left",
    ):
        lint = lint_prompt(f"[{pair}]")
        assert lint.ok and kinds(lint.warnings) == ["contradictory"], pair
        a, b = pair.split(",")
        assert f"{a} and {b}" in one_line(lint.warnings[0].message)
    assert lint_prompt("[Pan left,Tilt up]").warnings == ()


@pytest.mark.parametrize(
    ("prompt", "expected_kinds", "normalized"),
    [
        ("a [Pan left", ["unbalanced"], "a [Pan left"),
        ("a ]b", ["unbalanced"], "a ]b"),
        ("[[pan left]]", ["unbalanced", "unbalanced"], "[[Pan left]]"),
        ("[pan left] ] [", ["unbalanced", "unbalanced"], "[Pan left] ] ["),
    ],
)
def test_unbalanced_brackets_are_text(prompt, expected_kinds, normalized):
    lint = lint_prompt(prompt)
    assert lint.ok
    assert kinds(lint.warnings) == expected_kinds
    assert lint.normalized == normalized
    for warning in lint.warnings:
        assert "Unmatched" in one_line(warning.message)
        assert lint.prompt[warning.start] in "[]"


def test_issues_are_in_text_order_and_typed():
    lint = lint_prompt("[sic] [Pan lft] [] [Pan left,Pan left]")
    assert [i.kind for i in lint.issues] == [
        "not_a_command",
        "unknown_command",
        "empty",
        "duplicate",
    ]
    assert isinstance(lint, PromptLint)
    assert all(isinstance(i, LintIssue) for i in lint.issues)
    assert lint.first_error_message().startswith("Unknown camera command [Pan lft]")


def test_lint_is_frozen():
    lint = lint_prompt("[Pan left]")
    with pytest.raises(AttributeError):
        lint.normalized = "x"  # type: ignore[misc]


def test_non_string_input_does_not_raise():
    assert lint_prompt(None).normalized == ""  # type: ignore[arg-type]
    assert lint_prompt(42).normalized == "42"  # type: ignore[arg-type]


def test_messages_with_control_characters_stay_on_one_line():
    for prompt in ("[Pan\u2028lft]", "[a\x85b]", "[\r]", "[zoom\nin\x00]", "x\u2029[", "]\x0b"):
        lint = lint_prompt(prompt)
        for issue in lint.issues:
            one_line(issue.message)


def test_long_prompt_with_many_brackets_is_linear():
    parts = ["[pan left]", "[Pan lft]", "[sic]", "[push in, zoom out]", "[a red hat]"]
    prompt = " word ".join(parts[i % len(parts)] for i in range(100))
    lint = lint_prompt(prompt)
    assert len(lint.groups) == 40 and len(lint.errors) == 20 and len(lint.warnings) == 40


# ---------------------------------------------------------------------------- properties

bracketish = st.text(
    alphabet=st.sampled_from(list("[], -_.abcdefghijklmnopqrstuvwxyzPLRSZ \t\n")), max_size=80
)
command_bits = st.lists(
    st.one_of(
        st.sampled_from(CAMERA_COMMANDS).map(lambda c: f"[{c.upper()}]"),
        st.lists(st.sampled_from(CAMERA_COMMANDS), min_size=1, max_size=5).map(
            lambda cs: "[ " + " , ".join(c.lower() for c in cs) + " ]"
        ),
        st.sampled_from(["[", "]", "[]", "[sic]", "[Pan lft]", ",", " ", "word"]),
        st.text(max_size=10),
    ),
    max_size=20,
).map("".join)
# The linter itself, without lint_prompt's safety net (which turns any crash into "the
# prompt unchanged", so every property below would hold for a linter that always crashes).
strict_lint = camera_lint._lint

anything = st.one_of(st.text(max_size=300), bracketish, command_bits)


@pytest.mark.slow
@given(anything)
@settings(max_examples=400)
def test_the_linter_never_raises_and_messages_are_one_line(text):
    lint = strict_lint(text)
    assert isinstance(lint.normalized, str)
    assert lint.prompt == text
    for issue in lint.issues:
        one_line(issue.message)
        assert 0 <= issue.start <= issue.end <= len(text)
    for group in lint.groups:
        assert text[group.start : group.end] == group.raw
        assert all(cmd in CAMERA_COMMANDS for cmd in group.commands)


@given(anything)
@settings(max_examples=400)
def test_normalisation_is_idempotent(text):
    once = strict_lint(text).normalized
    assert strict_lint(once).normalized == once


@given(anything)
@settings(max_examples=400)
def test_normalised_groups_parse_back_to_the_same_commands(text):
    lint = strict_lint(text)
    again = strict_lint(lint.normalized)
    assert again.commands == lint.commands
    assert [g.raw for g in again.groups] == [g.canonical for g in lint.groups]
    assert again.errors == () or lint.errors != ()
    # Only bracket contents change: the text outside brackets is the same.
    outside = re.sub(r"\[[^\[\]]*\]", "[]", text)
    assert re.sub(r"\[[^\[\]]*\]", "[]", lint.normalized) == outside


@given(st.lists(st.sampled_from(CAMERA_COMMANDS), min_size=1, max_size=3), st.text(max_size=40))
def test_canonical_commands_are_always_accepted(cmds, filler):
    filler = filler.replace("[", "(").replace("]", ")")
    prompt = f"{filler} [{','.join(cmds)}] {filler}"
    lint = strict_lint(prompt)
    assert lint.ok and lint.normalized == prompt and lint.commands == tuple(cmds)
