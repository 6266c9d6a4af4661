"""The map stage for the storefront catalog: PIM category trees become SFCC categories under the
storefront `root`, and products become category assignments (connector-spec §4.6).

The exported trees are the configured ones (all when none is named), or the subtree of the
`top_level_category`. Their roots (or that category) become `root`; a product whose categories
all lie outside them is not assigned, a product without category is kept. A variant or
sub-model is assigned only to the categories set at its own level, not to those it inherits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from markupsafe import Markup

from ..errors import ConfigProblem, hint
from ..settings import CategorySettings
from ..sfcc import safe_id
from .values import X_DEFAULT, Localized, localized_labels

ROOT = "root"


@dataclass
class CategoryView:
    kind = "category"
    id: str
    names: Localized
    online: str
    parent: str | None
    custom: list[tuple[str, str | None, str]] = field(default_factory=list)
    position: int | None = None  # among its siblings, as the PIM orders them (Akeneo 7.0+ says it): menus sort so
    refinements: Markup | None = None  # saved <refinement-definitions> XML (job 6), written back as is
    default_refinement: bool = False  # the root's category refinement, when none was saved
    delete: bool = False  # deleted in the PIM: removed from SFCC

    @property
    def category_id(self) -> str:
        """The SFCC id of the PIM code `id` (the same unless the PIM sent a code SFCC refuses)."""
        return safe_id(self.id)

    @property
    def parent_id(self) -> str | None:
        return safe_id(self.parent) if self.parent else None


@dataclass
class AssignmentView:
    kind = "assignment"
    product: str
    category: str
    primary: bool = False
    delete: bool = False

    @property
    def category_id(self) -> str:
        return safe_id(self.category)


@dataclass
class RecommendationView:
    kind = "recommendation"
    source: str
    target: str
    type: str


class CategoryTree:
    def __init__(self, categories: list[dict], settings: CategorySettings, languages: dict[str, str],
                 default_locale: str, catalog_id: str):
        self.languages, self.default_locale, self.catalog_id = languages, default_locale, catalog_id
        self.online = "true" if settings.online else "false"
        self.primary = settings.primary_flag
        by_code = {c["code"]: c for c in categories}
        top = settings.top_level_category
        roots = [c["code"] for c in categories if not c.get("parent")]
        trees = set(settings.trees or roots)
        self.roots = {top} if top else trees  # written as the storefront root
        self.missing = [ConfigProblem.at(settings.trees_at, "$.top_level_category" if top else "$.trees",
                                         f"the PIM has no category '{code}'"
                                         f"{hint(code, by_code if top else roots) or ' (its trees: ' + ', '.join(sorted(roots)) + ')'}"
                                         ": nothing of it is written")
                        for code in sorted(self.roots) if code not in by_code and settings.trees_at is not None]
        self.selected = {code: c for code, c in by_code.items()
                         if code not in self.roots and self._root_of(code, by_code) & self.roots}

    @staticmethod
    def _root_of(code: str, by_code: dict[str, dict]) -> set[str]:
        """The category and all its ancestors."""
        seen: set[str] = set()
        while code and code not in seen and code in by_code:
            seen.add(code)
            code = by_code[code].get("parent")
        return seen

    def views(self, refinements: dict[str, str]) -> list[CategoryView]:
        """The storefront root, then the categories, parents before children; each with the
        refinement definitions saved for it (job 6), the root with a category refinement otherwise."""
        root = CategoryView(ROOT, [(X_DEFAULT, self.catalog_id)], "true", None)
        depth = {code: len(self._root_of(code, self.selected)) for code in self.selected}
        views = [root] + [self._view(self.selected[code]) for code in sorted(self.selected, key=lambda c: (depth[c], c))]
        for view in views:
            if view.category_id in refinements:  # saved from SFCC, by SFCC id
                view.refinements = Markup(refinements[view.category_id])  # re-serialized by lxml when saved: well-formed
        root.default_refinement = root.refinements is None
        return views

    def _view(self, category: dict) -> CategoryView:
        names = localized_labels(category.get("labels"), self.languages, self.default_locale, category["code"])
        parent = category.get("parent")
        custom = [("showInMenu", None, "true")] if self.online == "true" else []
        position = category.get("position")
        position = position if type(position) is int and position >= 0 else None  # another shape: no position
        return CategoryView(category["code"], names, self.online, parent if parent in self.selected else ROOT, custom,
                            position)

    def holds(self, categories: Iterable[str]) -> bool:
        """Whether an item classified in `categories` belongs to this storefront: some of them lie
        in the trees, or there are none (unclassified items are kept)."""
        categories = list(categories)
        return not categories or any(code in self.selected or code in self.roots for code in categories)

    def assignments(self, item_id: str, categories: list[str], inherited: set[str]) -> list[AssignmentView] | None:
        """The item's assignments, the first primary; None when all its categories are outside the trees."""
        if not self.holds(categories):
            return None
        own = [code for code in categories if code not in inherited]
        return [AssignmentView(item_id, code, primary=self.primary and i == 0)
                for i, code in enumerate(code for code in own if code in self.selected)]
