"""The map stage for assets on products (connector-spec §4.9, §4.10): what an asset family's main
media is, and the custom attributes a product gets for the assets it uses that are not image
files: `akeneo_<asset code>_<attribute>` holding the link (videos, linked documents, and linked
images with `import_type: both`) or the static path of the file (PDFs and other files)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..rules import RuleError
from ..settings import Site
from ..sfcc import asset_attribute_id, asset_path, xml_safe
from .values import ASSET_CHANNEL, channel_values, localize


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
                 site: Site, files: set[str] = frozenset()):
        """`asset(family, code)`: the stored asset; `files`: the paths of the binaries the store keeps
        (a file's static path is only written when it is one)."""
        self.main_media, self.asset, self.import_type, self.site = main_media, asset, import_type, site
        self.files = files

    def values(self, family: str | None, codes: list) -> tuple[list[tuple[str, str | None, str]], list[str]]:
        """(custom attribute id, xml:lang or None, value) for the assets `codes` of `family`, and
        what is wrong with the assets whose main media cannot be read (they are left out)."""
        main = self.main_media.get(family or "")
        if main is None or not is_attribute(main, self.import_type):
            return [], []
        site = self.site
        found, problems = [], []
        for code in codes:
            asset = self.asset(family, code) if isinstance(code, str) else None
            if asset is None:
                continue
            try:
                entries = channel_values((asset.get("values") or {}).get(main.attribute) or (), site.channel,
                                         site.locales, ASSET_CHANNEL)
            except RuleError as exc:
                problems.append(f"asset '{code}': {exc}")
                continue
            by_locale = {}
            for locale, data in entries:
                if isinstance(data, str) and not main.link and asset_path(data) not in self.files:
                    problems.append(f"asset '{code}': file {asset_path(data)} is not in the store's media folder"
                                    " (not downloaded?)")
                elif isinstance(data, str):
                    by_locale[locale] = self._value(main, data)
            custom_id = asset_attribute_id(code, main.attribute)
            if None in by_locale:
                found.append((custom_id, None, by_locale[None]))
            else:
                found += [(custom_id, lang, text) for lang, text in localize(by_locale, site.locales, site.default_locale)]
        return found, problems

    @staticmethod
    def _value(main: MainMedia, data: str) -> str:
        if main.link:
            return xml_safe(main.prefix + data + main.suffix)
        return f"{asset_path(data)}?$staticlink$"
