"""The render stage: Jinja templates turn view models into SFCC XML, streamed in chunks.

Templates autoescape and fail on undefined names. The values they print are already XML-safe:
the map stage passes every rule output through `sfcc.xml_safe`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

import jinja2
from markupsafe import Markup, escape


def environment(templates: Path | jinja2.BaseLoader) -> jinja2.Environment:
    """The one Jinja setup: the config folder's templates, or another loader's (the HTML report's)."""
    env = jinja2.Environment(
        loader=templates if isinstance(templates, jinja2.BaseLoader) else jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change during a run: no stat() of every import, per record
    )
    env.globals["custom_attributes_xml"] = custom_attributes_xml
    return env


_NEEDS_ESCAPE = re.compile(r"[&<>\"']")


def _escaped(text: object) -> str:
    """`escape(text)`, without making a Markup of the many texts that need no escaping (four such
    calls per custom attribute were a fifth of the render)."""
    if type(text) is str and _NEEDS_ESCAPE.search(text) is None:
        return text
    return str(escape(text))


def custom_attributes_xml(attributes, indent: str = "        ") -> Markup:
    """A `<custom-attributes>` block from (attribute-id, xml:lang or None, text or list of values)
    triples, escaped as the templates escape. One Python function, not a Jinja loop: a product
    has tens of custom attributes, and a loop's per-value escaping was an eighth of the render."""
    if not attributes:
        return Markup("")
    inner = indent + "    "
    lines = [f"{indent}<custom-attributes>\n"]
    for attribute_id, lang, value in attributes:
        start = _STARTS.get((attribute_id, lang))
        if start is None:
            start = _custom_attribute_start(attribute_id, lang)
        text = _escaped(value) if isinstance(value, str) else "".join(f"<value>{_escaped(v)}</value>" for v in value)
        lines.append(f"{inner}{start}{text}</custom-attribute>\n")
    lines.append(f"{indent}</custom-attributes>\n")
    return Markup("".join(lines))


_STARTS: dict[tuple[str, str | None], str] = {}  # a few hundred (attribute, language) pairs in a catalog


def _custom_attribute_start(attribute_id: str, lang: str | None) -> str:
    if len(_STARTS) > 10_000:
        _STARTS.clear()
    language = f' xml:lang="{_escaped(lang)}"' if lang else ""
    start = _STARTS[attribute_id, lang] = f'<custom-attribute attribute-id="{_escaped(attribute_id)}"{language}>'
    return start


class RecordRenderer:
    """Renders one record into a safe XML fragment, with the record template of its kind (an
    output whose records are all of one kind has one template, and its records need no `kind`)."""

    def __init__(self, env: jinja2.Environment, templates: dict[str, str], **context):
        self.templates = {kind: env.get_template(name) for kind, name in templates.items()}
        self.only = next(iter(self.templates.values())) if len(self.templates) == 1 else None
        self.context = context

    def __call__(self, record: object) -> Markup:
        template = self.only or self.templates[record.kind]
        return Markup(template.render(record=record, **self.context))


def render_document(env: jinja2.Environment, name: str, records: Iterable[Markup], **context) -> Iterator[str]:
    """Stream a document template's output; `records` is consumed lazily, one record at a time."""
    return env.get_template(name).generate(records=records, **context)
