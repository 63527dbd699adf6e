"""HTML pages from the Jinja2 templates in ``golive/templates``: every printed value masked, then escaped.

One environment for the package. Autoescaping is on for every template (a ``<b>`` in a check's message is
shown, never interpreted); the ``mask`` filter replaces what the run's masker knows as a secret by ``***``
and runs on every printed value through ``finalize``, so a template cannot forget it; a variable the caller
did not pass fails the render (``StrictUndefined``) instead of printing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

Mask = Callable[[str], str]


@pass_context
def mask(context: Context, value: object) -> str | Markup:
    """``value`` as text with the secrets of the run's masker (the ``mask`` passed to ``render``) replaced."""
    if isinstance(value, Markup):  # a macro's output: its own values were masked where they were printed
        return value
    masker: Mask = context["mask"]  # KeyError when a caller forgot it: never an unmasked page
    return masker(str(value))


ENVIRONMENT = Environment(
    loader=PackageLoader("golive", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=True),
    undefined=StrictUndefined,
    finalize=mask,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENVIRONMENT.filters["mask"] = mask


def render(template: str, mask: Mask, **context: Any) -> str:
    """The named template rendered with ``context``; ``mask`` is the run's masker (``golive.masking.Masker``)."""
    return ENVIRONMENT.get_template(template).render(mask=mask, **context)
