"""MkDocs hook: the settings page's tables, rendered from the settings classes at build time.

Each ``<!-- settings: CLASS -->`` marker in a page becomes a table of that class's own fields
(``profbot.settings.CLASS``; inherited fields are in their own class's table): the environment
variable, its type and bounds, its default, and what it does. What it does is the field's
``description`` when it has one, else the one-line comment above the variable in
``deploy/profbot.env.example`` (a test keeps that file complete), else the comment above the field
in the class. ``<!-- policies: CLASS -->`` renders a dataclass of ``bot/usecases/settings.py`` the
same way. A marker naming no such class, or a field with nothing to say about it, fails the build:
the page cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / "deploy" / "profbot.env.example"
MARKER = re.compile(r"<!--\s*(settings|policies):\s*([A-Za-z_][A-Za-z0-9_]*)\s*-->")

# Defaults computed at start-up, in words (the function's own name says little to a reader).
FACTORY_DEFAULTS = {
    "gethostname": "this machine's hostname",
    "default_state_dir": "`$XDG_STATE_HOME/profbot`, else `~/.local/state/profbot`",
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    named = {m.group(2) for m in MARKER.finditer(markdown) if m.group(1) == "settings"}
    if not named:
        return markdown
    _check_every_class_rendered(named)
    return MARKER.sub(lambda m: _render(m.group(1), m.group(2)), markdown)


def _check_every_class_rendered(named: set[str]) -> None:
    """A settings class added to profbot/settings.py fails the build until the page renders it."""
    from profbot import settings

    classes = [
        cls
        for cls in vars(settings).values()
        if inspect.isclass(cls) and issubclass(cls, settings.CommonSettings) and _own_fields(cls)
    ]
    missing = sorted(cls.__name__ for cls in classes if cls.__name__ not in named)
    if missing:
        raise PluginError(f"settings page: no <!-- settings: NAME --> table for {', '.join(missing)}")


def _render(kind: str, name: str) -> str:
    if kind == "settings":
        from profbot import settings

        cls = getattr(settings, name, None)
        if not (inspect.isclass(cls) and hasattr(cls, "model_fields")):
            raise PluginError(f"settings page: profbot.settings has no settings class {name}")
        return _settings_table(cls)
    from bot.usecases import settings as policies

    cls = getattr(policies, name, None)
    if not (inspect.isclass(cls) and dataclasses.is_dataclass(cls)):
        raise PluginError(f"settings page: bot.usecases.settings has no dataclass {name}")
    return _policy_table(cls)


# ---------------------------------------------------------------------------------------- pydantic
def _settings_table(cls: type) -> str:
    own = _own_fields(cls)
    comments = _source_comments(cls)
    examples = _env_example_comments()
    rows = ["| setting | type | default | what it does |", "| --- | --- | --- | --- |"]
    for attr, field in own.items():
        env = field.alias or attr.upper()
        said = field.description or examples.get(env) or comments.get(attr)
        if not said:
            raise PluginError(
                f"settings page: {cls.__name__}.{attr} ({env}) has no description, "
                "no line in deploy/profbot.env.example and no comment"
            )
        said = " ".join(part for part in (said, _bounds_of(field)) if part)
        rows.append(f"| `{env}` | {_type_of(field)} | {_default_of(field)} | {_cell(said)} |")
    doc = inspect.getdoc(cls) or ""
    return f"{_cell(doc)}\n\n" + "\n".join(rows) + "\n"


def _own_fields(cls: type) -> dict[str, FieldInfo]:
    inherited: set[str] = set()
    for base in cls.__mro__[1:]:
        inherited |= set(getattr(base, "model_fields", {}))
    return {k: v for k, v in cls.model_fields.items() if k not in inherited}  # type: ignore[attr-defined]


def _type_of(field: FieldInfo) -> str:
    return _type_name(field.annotation)


def _bounds_of(field: FieldInfo) -> str:
    """What values the field takes, as a sentence ("" when any value of its type will do)."""
    said: list[str] = []
    pattern = None
    for meta in field.metadata:
        for attr, words in (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")):
            value = getattr(meta, attr, None)
            if value is not None:
                said.append(f"{words} {value:,}")
        length = getattr(meta, "min_length", None)
        if length and length > 1:
            said.append(f"at least {length} characters")
        pattern = getattr(meta, "pattern", None) or pattern
    text = (", ".join(said).capitalize() + ".") if said else ""
    return " ".join(part for part in (text, _pattern_text(pattern) if pattern else "") if part)


def _pattern_text(pattern: str) -> str:
    from profbot.settings import NAME_PATTERN

    if pattern == NAME_PATTERN:
        return "A name: a letter or digit, then letters, digits, `_`, `.`, `-`."
    choices = re.fullmatch(r"\^\(([a-z|]+)\)\$", pattern)
    if choices:
        return "One of " + ", ".join(f"`{c}`" for c in choices.group(1).split("|")) + "."
    return f"Matching `{pattern}`."


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = " or ".join(_type_name(a) for a in args)
        return inner  # None is "unset", which the default column says
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(annotation))
    name = getattr(annotation, "__name__", str(annotation))
    return {"SecretStr": "secret", "HttpUrl": "URL", "Path": "path", "str": "text", "float": "number",
            "int": "integer", "bool": "boolean"}.get(name, name)  # fmt: skip


def _default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        name = getattr(field.default_factory, "__name__", "")
        return FACTORY_DEFAULTS.get(name, f"computed ({name})")
    value = field.default
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def _env_example_comments() -> dict[str, str]:
    """Each variable of deploy/profbot.env.example with the comment line just above it."""
    found: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match and previous:
            found.setdefault(match.group(1), previous)
        stripped = line.lstrip("# ").strip()
        previous = stripped if line.startswith("#") and not match and not stripped.startswith("----") else ""
    return found


def _source_comments(cls: type) -> dict[str, str]:
    """The comment lines right above each field of ``cls``, joined (or its trailing comment)."""
    lines, _ = inspect.getsourcelines(cls)
    source = textwrap.dedent("".join(lines))
    tree = ast.parse(source)
    body = tree.body[0].body  # type: ignore[attr-defined]
    text = source.splitlines()
    found: dict[str, str] = {}
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        row = node.lineno - 2
        while row >= 0 and text[row].strip().startswith("#"):
            above.insert(0, text[row].strip().lstrip("#").strip())
            row -= 1
        trailing = text[node.end_lineno - 1].split("  # ", 1)  # type: ignore[operator]
        said = " ".join(above) or (trailing[1].strip() if len(trailing) == 2 else "")
        if said:
            found[node.target.id] = said
    return found


# -------------------------------------------------------------------------------------- dataclasses
def _policy_table(cls: type) -> str:
    comments = _source_comments(cls)
    rows = ["| field | type | default | what it is |", "| --- | --- | --- | --- |"]
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            default = f"`{field.default}`"
        elif field.default_factory is not dataclasses.MISSING:
            default = f"`{field.default_factory()!r}`"
        else:
            default = "required"
        said = comments.get(field.name)
        if not said:
            raise PluginError(f"settings page: {cls.__name__}.{field.name} has no comment to say what it is")
        type_name = field.type if isinstance(field.type, str) else _type_name(field.type)
        rows.append(f"| `{field.name}` | `{type_name}` | {default} | {_cell(said)} |")
    doc = inspect.getdoc(cls)
    return (f"{_cell(doc)}\n\n" if doc else "") + "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
