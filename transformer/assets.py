"""The map stage for assets on products (connector-spec §4.9, §4.10): what an asset family's main
media is, and the custom attributes a product gets for the assets it uses that are not image
files: `akeneo_<asset code>_<attribute>` holding the link (videos, linked documents, and linked
images with `import_type: both`) or the static path of the file (PDFs and other files)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .mapping import camel
from .sfcc import xml_safe
from .sources.pull import safe_path


@dataclass(frozen=True)
class MainMedia:
    """An asset family's main media: a file, or a link (prefix + value + suffix), of a media type
    (image, pdf, youtube, vimeo, other)."""

    attribute: str
    link: bool = False
    prefix: str = ""
    suffix: str = ""
    media_type: str = "image"


def is_attribute(main: MainMedia, import_type: str) -> bool:
    """Whether products get a custom attribute per asset of this family: not for image files
    (the images job shows them), nor for linked images unless `import_type` is `both`."""
    if main.media_type != "image":
        return True
    return main.link and import_type == "both"


class AssetAttributes:
    def __init__(self, main_media: dict[str, MainMedia], asset: Callable[[str, str], dict | None], import_type: str,
                 channel: str, languages: dict[str, str], localize: Callable[[dict], list[tuple[str, str]]]):
        """`asset(family, code)`: the stored asset; `localize`: per-locale values -> (xml:lang, text)."""
        self.main_media, self.asset, self.import_type = main_media, asset, import_type
        self.channel, self.languages, self.localize = channel, languages, localize

    def values(self, family: str | None, codes: list) -> list[tuple[str, str | None, str]]:
        """(custom attribute id, xml:lang or None, value) for the assets `codes` of `family`."""
        main = self.main_media.get(family or "")
        if main is None or not is_attribute(main, self.import_type):
            return []
        found = []
        for code in codes:
            asset = self.asset(family, code) if isinstance(code, str) else None
            by_locale = {entry.get("locale"): self._value(main, entry["data"])
                         for entry in ((asset or {}).get("values") or {}).get(main.attribute) or []
                         if isinstance(entry, dict) and isinstance(entry.get("data"), str) and entry["data"]
                         and entry.get("channel") in (None, self.channel)
                         and (entry.get("locale") is None or entry.get("locale") in self.languages)}
            custom_id = f"akeneo_{camel(code)}_{camel(main.attribute)}" if asset else None
            if custom_id and None in by_locale:
                found.append((custom_id, None, by_locale[None]))
            elif custom_id:
                found += [(custom_id, lang, text) for lang, text in self.localize(by_locale)]
        return found


    @staticmethod
    def _value(main: MainMedia, data: str) -> str:
        if main.link:
            return xml_safe(main.prefix + data + main.suffix)
        return f"assets/{safe_path(data)}?$staticlink$"
