"""The Akeneo REST endpoints the jobs may read, and how their items are kept in the store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

SELECT_TYPES = frozenset({"pim_catalog_simpleselect", "pim_catalog_multiselect"})
OPTION_TYPES = frozenset({"single_option", "multiple_options"})


@dataclass(frozen=True)
class Endpoint:
    """One Akeneo list endpoint.

    `path` is relative to /api/rest/v1; `{parent}` (and `{child}`) stand for the codes of
    the owning entities. Items are stored under kind `name`, keyed by `key`, with the
    owning codes joined by '/' as their parent.
    """

    name: str
    path: str
    key: str = "code"
    paging: str = "offset"  # offset | search_after | cursor | single (one unpaged list or object)
    description: str = ""
    owner: str | None = None  # the endpoint whose items own this one's ({parent}/{child} codes)
    owner_types: frozenset[str] = frozenset()  # only owners of these `type`s have items here
    filtered: bool = False  # takes `search`, `updated` deltas and value parameters
    query: tuple[tuple[str, str], ...] = ()  # asked of every read (a PIM that does not know them ignores them)

    def owner_keys(self, owners: list[tuple[str, dict]]) -> list[str]:
        """Parent keys of this endpoint's items, from its owners' stored (parent, item) rows."""
        return [f"{parent}/{item[ENDPOINTS[self.owner].key]}" if parent else item[ENDPOINTS[self.owner].key]
                for parent, item in owners if not self.owner_types or item.get("type") in self.owner_types]

    def list_path(self, parent: str = "") -> str:
        """The API path (below /api/rest/v1/) listing the items of `parent`."""
        codes = [quote(code, safe="") for code in parent.split("/")] if parent else []
        return self.path.format(**dict(zip(("parent", "child"), codes)))

    @property
    def pattern(self) -> re.Pattern:
        regex = re.escape(self.path).replace(r"\{parent\}", "(?P<parent>[^/]+)").replace(r"\{child\}", "(?P<child>[^/]+)")
        return re.compile(f"^{regex}$")


ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (
    Endpoint("system-information", "system-information", "version", "single", "PIM version and edition"),
    Endpoint("locales", "locales", description="Locales"),
    Endpoint("currencies", "currencies", description="Currencies"),
    Endpoint("channels", "channels", description="Channels (scopes)"),
    Endpoint("measurement-families", "measurement-families", paging="single", description="Measurement families and units"),
    Endpoint("attribute-groups", "attribute-groups", description="Attribute groups"),
    Endpoint("attributes", "attributes", description="Attributes"),
    Endpoint("attribute-options", "attributes/{parent}/options", description="Options of select attributes",
             owner="attributes", owner_types=SELECT_TYPES),
    Endpoint("families", "families", description="Families"),
    Endpoint("family-variants", "families/{parent}/variants", description="Family variants (variation axes)",
             owner="families"),
    Endpoint("categories", "categories", description="Categories (with their position among their siblings, Akeneo 7.0+)",
             query=(("with_position", "true"),)),
    Endpoint("association-types", "association-types", description="Association types"),
    Endpoint("product-models", "product-models", paging="search_after", description="Product models", filtered=True),
    Endpoint("products", "products", "identifier", "search_after", "Products, by identifier", filtered=True),
    Endpoint("products-uuid", "products-uuid", "uuid", "search_after", "Products, by UUID (PIM 7 and SaaS)",
             filtered=True),
    Endpoint("asset-families", "asset-families", paging="cursor", description="Asset families (EE)"),
    Endpoint("asset-family-attributes", "asset-families/{parent}/attributes", paging="single",
             description="Attributes of asset families (EE)", owner="asset-families"),
    Endpoint("asset-family-attribute-options", "asset-families/{parent}/attributes/{child}/options", paging="single",
             description="Options of asset family attributes (EE)", owner="asset-family-attributes",
             owner_types=OPTION_TYPES),
    Endpoint("assets", "asset-families/{parent}/assets", paging="cursor", description="Assets (EE)",
             owner="asset-families", filtered=True),
    Endpoint("reference-entities", "reference-entities", paging="cursor", description="Reference entities (EE)"),
    Endpoint("reference-entity-attributes", "reference-entities/{parent}/attributes", paging="single",
             description="Attributes of reference entities (EE)", owner="reference-entities"),
    Endpoint("reference-entity-attribute-options", "reference-entities/{parent}/attributes/{child}/options",
             paging="single", description="Options of reference entity attributes (EE)",
             owner="reference-entity-attributes", owner_types=OPTION_TYPES),
    Endpoint("reference-entity-records", "reference-entities/{parent}/records", paging="cursor",
             description="Reference entity records (EE)", owner="reference-entities", filtered=True),
)}


def endpoint_for_path(path: str) -> tuple[Endpoint, str] | None:
    """The endpoint whose path matches `path` (no extension) and the parent it names."""
    for endpoint in ENDPOINTS.values():
        match = endpoint.pattern.match(path)
        if match:
            groups = match.groupdict()
            parent = "/".join(groups[k] for k in ("parent", "child") if k in groups)
            return endpoint, parent
    return None
