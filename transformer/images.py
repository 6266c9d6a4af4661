"""The map stage for product images (connector-spec §4.9): the files of image attributes and of
the assets in asset collections become SFCC image groups, one per view type, in PIM order.

Paths are those the pull downloads the binaries to, below the catalog's static folder
(`internal-location base-path="/"`): an image attribute's media at its safe path, an asset's
main media under `assets/`. A master also gets one group per level-1 model, marked with that
model's axis value (the images of the chosen colour), and one per variant, marked with all its
axis values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .sources.pull import safe_path

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


class ImageMapper:
    def __init__(self, settings: Mapping, attributes: dict[str, dict], image_media: dict[str, str],
                 asset: Callable[[str, str], dict | None], channel: str):
        """`image_media`: asset family -> its main media attribute, for families whose main media is an
        image file; `asset(family, code)`: the stored asset."""
        source = settings.get("image_source", "both")
        self.image_attributes = list(settings.get("image_attributes") or []) if source in ("images", "both") else []
        self.asset_attributes = list(settings.get("asset_attributes") or []) if source in ("assets", "both") else []
        self.view_types = list(settings.get("view_types") or [])
        self.attributes, self.image_media, self.asset, self.channel = attributes, image_media, asset, channel

    def view(self, item_id: str, item: dict, variations: list[tuple[list[tuple[str, str]], dict]] = ()
             ) -> ImagesView | None:
        """The item's own images, then (masters) one group per `([(axis id, value)...], item)`: a
        level-1 model with its axis value, a variant with all of its axis values."""
        groups = [ImageGroup(view_type, paths) for paths in [self.paths(item)] if paths for view_type in self.view_types]
        for variation, below in variations:
            paths = self.paths(below)
            groups += [ImageGroup(view_type, paths, variation) for view_type in self.view_types if paths]
        return ImagesView(item_id, groups) if groups else None

    def paths(self, item: dict) -> list[str]:
        """Image paths of an item, in the configured attribute order and the PIM's value order."""
        values = item.get("values") or {}
        found: list[str] = []
        for code in self.image_attributes:
            media = self._data(values.get(code))
            if isinstance(media, str) and media:
                found.append(safe_path(media))
        for code in self.asset_attributes:
            family = (self.attributes.get(code) or {}).get("reference_data_name")
            for asset_code in self._data(values.get(code)) or []:
                media = self._main_media(family, asset_code)
                if media:
                    found.append("assets/" + safe_path(media))
        return [path for i, path in enumerate(found) if path not in found[:i] and len(path) <= IMAGE_PATH_MAX]

    def _main_media(self, family: str | None, asset_code: str) -> str | None:
        """The asset's main media file, when its family's main media is an image file."""
        main = self.image_media.get(family or "")
        asset = self.asset(family, asset_code) if main else None
        data = self._data((asset.get("values") or {}).get(main), key="channel") if asset else None
        return data if isinstance(data, str) else None

    def _data(self, entries: object, key: str = "scope") -> object:
        """The value for the channel (or for no channel), preferring the one without locale."""
        if not isinstance(entries, list):
            return None
        chosen = [e for e in entries if isinstance(e, dict) and e.get(key) in (None, self.channel)]
        chosen.sort(key=lambda e: e.get("locale") is not None)
        return chosen[0].get("data") if chosen else None
