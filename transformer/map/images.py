"""The map stage for product images (connector-spec §4.9): the files of image attributes and of
the assets in asset collections become SFCC image groups, one per view type, in PIM order.

Paths are those the pull downloads the binaries to, below the catalog's static folder
(`internal-location base-path="/"`): an image attribute's media at its safe path, an asset's
main media under `assets/`. A master also gets one group per level-1 model, marked with that
model's axis value (the images of the chosen colour), and one per variant, marked with all its
axis values.
"""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..errors import ConfigProblem, hint
from ..rules import RuleError
from ..settings import AssetSettings
from ..shapes import dropped
from ..sfcc import asset_path, safe_path
from .assets import MainMedia
from .values import ASSET_CHANNEL, channel_entries, channel_values

IMAGE_PATH_MAX = 1800


@dataclass
class ImageGroup:
    view_type: str
    paths: list[str]
    variation: list[tuple[str, str]] = field(default_factory=list)  # (attribute id, value)


@dataclass
class ImagesView:
    id: str
    groups: list[ImageGroup]


def missing_image_attributes(settings: AssetSettings, attributes: Mapping[str, object]) -> list[ConfigProblem]:
    """The image and asset attributes the settings name that the PIM lacks (skipped)."""
    return [ConfigProblem.at(at, path, f"the PIM has no attribute '{code}'{hint(code, attributes)}: skipped")
            for codes, at, path in ((settings.image_attributes, settings.image_attributes_at, "$.image_attributes"),
                                    (settings.asset_attributes, settings.asset_attributes_at, "$.asset_attributes"))
            for code in codes if code not in attributes and at is not None]


class ImageMapper:
    def __init__(self, settings: AssetSettings, attributes: dict[str, dict], main_media: dict[str, MainMedia],
                 asset: Callable[[str, str], dict | None], channel: str, languages: dict[str, str],
                 files: set[str] = frozenset()):
        """`main_media`: asset family -> its main media, for families whose main media is an image;
        `asset(family, code)`: the stored asset; `files`: the paths of the binaries the store keeps
        (an image file is only written when it is one). With `import_type: media_link` images are
        the assets' links, under `external_location`; otherwise files from the static folder."""
        source = settings.image_source
        self.links = settings.import_type == "media_link"
        self.base = settings.external_location if self.links else None  # written as the catalog's external location
        self.image_attributes = settings.image_attributes if source in ("images", "both") and not self.links else ()
        self.asset_attributes = settings.asset_attributes if source in ("assets", "both") else ()
        self.read_attributes = {*self.image_attributes, *self.asset_attributes}
        self.view_types = list(settings.view_types)
        self.attributes, self.main_media, self.asset = attributes, main_media, asset
        self.channel, self.languages, self.files = channel, languages, files
        self.missing = missing_image_attributes(settings, attributes)

    def declared_view_types(self) -> list[str]:
        """Every view type groups may use: the configured ones, and per language for localized images."""
        return self.view_types + [f"{v}_{lang}" for v in self.view_types for lang in self.languages.values()]

    def view(self, item_id: str, item: dict, variations: list[tuple[list[tuple[str, str]], dict]] = ()
             ) -> tuple[ImagesView | None, list[tuple[str, str]]]:
        """The item's own images, then (masters) one group per `([(axis id, value)...], item)`: a
        level-1 model with its axis value, a variant with all of its axis values. Localized images
        go to locale-suffixed view types (`large_fr-FR`): SFCC has no per-language image. Also
        (attribute, problem) of the item's values that could not be read (they are left out)."""
        groups: list[ImageGroup] = []
        problems: list[tuple[str, str]] = []
        for variation, source in [([], item), *variations]:
            # What is wrong below a master is reported with the variant (or model) it belongs to.
            for language, paths in self.paths(source, problems if source is item else []).items():
                groups += [ImageGroup(f"{v}_{language}" if language else v, paths, variation) for v in self.view_types]
        return (ImagesView(item_id, groups) if groups else None), problems

    def paths(self, item: dict, problems: list[tuple[str, str]]) -> dict[str | None, list[str]]:
        """Image paths of an item by SFCC language (None: every language), in the configured
        attribute order and the PIM's value order; a value that cannot be read goes to `problems`."""
        values = item.get("values") or {}
        found: list[tuple[str | None, str]] = []
        problems += [(field, problem) for field, problem, _ in  # what the store dropped of these values
                     dropped(item, self.read_attributes)]
        for code in self.image_attributes:
            try:
                media = self._data(values.get(code))
            except RuleError as exc:
                problems.append((code, str(exc)))
                continue
            if isinstance(media, str) and media:
                found.append((None, safe_path(media)))
        for code in self.asset_attributes:
            family = (self.attributes.get(code) or {}).get("reference_data_name")
            try:
                codes = self._data(values.get(code))
            except RuleError as exc:
                problems.append((code, str(exc)))
                continue
            for asset_code in codes if isinstance(codes, list) else []:
                if not isinstance(asset_code, str):  # a PIM's list may hold anything
                    problems.append((code, f"asset code {json.dumps(asset_code)[:100]} is no text: left out"))
                    continue
                try:
                    found += self._asset_images(family, asset_code)
                except RuleError as exc:
                    problems.append((code, f"asset '{asset_code}': {exc}"))
        by_language: dict[str | None, list[str]] = {}
        for language, path in found:
            if not self.links and path not in self.files:
                problems.append(("images", f"image file {path} is not in the store's media folder (not downloaded?)"))
                continue
            paths = by_language.setdefault(language, [])
            if path not in paths and len(path) <= IMAGE_PATH_MAX:
                paths.append(path)
        return by_language

    def _asset_images(self, family: str | None, asset_code: str) -> list[tuple[str | None, str]]:
        """(language or None, path) of an asset's main media: files under `assets/`, or links."""
        main = self.main_media.get(family or "")
        if main is None or main.media_type != "image" or main.link != self.links:
            return []
        asset = self.asset(family, asset_code)
        entries = channel_values(((asset or {}).get("values") or {}).get(main.attribute) or (), self.channel,
                                 self.languages, ASSET_CHANNEL)
        images = []
        for locale, data in entries:
            if not isinstance(data, str):
                continue
            language = self.languages[locale] if locale else None
            if main.link:
                url = main.prefix + data + main.suffix
                images.append((language, url.removeprefix(self.base or "").lstrip("/")))
            else:
                images.append((language, asset_path(data)))
        return images

    def _data(self, entries: object) -> object:
        """A product value for the channel (or for no channel), preferring the one without locale."""
        chosen = sorted(channel_entries(entries or (), self.channel), key=lambda e: e.get("locale") is not None)
        return chosen[0]["data"] if chosen else None
