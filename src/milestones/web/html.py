"""The Jinja2 environment every HTML (and SVG) answer is rendered with: the pages and the problem pages."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("milestones.web", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> str:
    """The template `name` (in web/templates) rendered with `context`, escaped."""
    return _templates.get_template(name).render(**context)
