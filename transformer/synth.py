"""A deterministic synthetic catalog: the demo PIM's structure and attribute mix, N products.

Products are cloned from the demo's own products and product models (so every attribute
type, locale, scope and association shape of the demo appears), with fresh identifiers,
codes, EANs and texts; about a third of the products are variants under cloned models.
Output is a snapshot folder (`products.jsonl`, `product-models.jsonl`, structure files
copied from the demo) that `akeneo-sfcc load` and `run --snapshot` read. Written as a
stream: memory does not grow with N.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path

VARIANT_SHARE = 1 / 3


def generate(demo: Path, out: Path, products: int, seed: int = 7) -> dict[str, int]:
    """Write a snapshot of `products` products into `out`; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(demo, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("products.json", "product-models.json",
                                                                                "README.md"))
    demo_products = json.loads((demo / "products.json").read_text(encoding="utf-8"))
    demo_models = json.loads((demo / "product-models.json").read_text(encoding="utf-8"))
    templates = _Templates(demo_products, demo_models)
    rng = random.Random(seed)
    counts = {"products": 0, "variants": 0, "product-models": 0}
    with open(out / "products.jsonl", "w", encoding="utf-8") as product_file, \
            open(out / "product-models.jsonl", "w", encoding="utf-8") as model_file:
        while counts["products"] < products:
            if counts["variants"] < counts["products"] * VARIANT_SHARE:
                models, variants = templates.family(rng, counts["product-models"], products - counts["products"])
            else:
                models, variants = [], [templates.simple(rng, counts["products"])]
            for model in models:
                model_file.write(json.dumps(model, ensure_ascii=False) + "\n")
            for product in variants:
                product_file.write(json.dumps(product, ensure_ascii=False) + "\n")
            counts["product-models"] += len(models)
            counts["products"] += len(variants)
            counts["variants"] += sum(1 for p in variants if p.get("parent"))
    return counts


class _Templates:
    def __init__(self, products: list[dict], models: list[dict]):
        self.simples = [p for p in products if not p.get("parent")]
        self.roots = [m for m in models if not m.get("parent")]
        self.children = {m["code"]: [c for c in models if c.get("parent") == m["code"]] for m in models}
        self.variants = {m["code"]: [p for p in products if p.get("parent") == m["code"]] for m in models}

    def simple(self, rng: random.Random, number: int) -> dict:
        template = self.simples[number % len(self.simples)]
        return _clone_product(template, f"SYN-{number:07d}", None, rng, number)

    def family(self, rng: random.Random, model_number: int, room: int) -> tuple[list[dict], list[dict]]:
        """A cloned root model with its sub models and variants (no more variants than `room`)."""
        root = self.roots[model_number % len(self.roots)]
        root_code = f"SYNM-{model_number:07d}"
        models = [_clone_model(root, root_code, None, rng, model_number)]
        variants: list[dict] = []
        for level_one in self.children[root["code"]] or [None]:
            parent_code = root_code
            if level_one is not None:
                parent_code = f"{root_code}-{len(models)}"
                models.append(_clone_model(level_one, parent_code, root_code, rng, model_number))
            for variant in self.variants[(level_one or root)["code"]]:
                if len(variants) == room:
                    return models, variants
                variants.append(_clone_product(variant, f"{parent_code}-V{len(variants)}", parent_code, rng, model_number))
        return models, variants


def _clone_product(template: dict, identifier: str, parent: str | None, rng: random.Random, number: int) -> dict:
    product = copy.deepcopy(template)
    product.update(identifier=identifier, parent=parent, uuid=_uuid(rng))
    product["values"]["sku"] = [{"locale": None, "scope": None, "data": identifier}]
    _vary(product["values"], rng, number)
    _unlink(product)
    return product


def _clone_model(template: dict, code: str, parent: str | None, rng: random.Random, number: int) -> dict:
    model = copy.deepcopy(template)
    model.update(code=code, parent=parent)
    _vary(model["values"], rng, number)
    _unlink(model)
    return model


def _unlink(item: dict) -> None:
    """Associations of a clone would point at demo products the synthetic catalog lacks."""
    item["associations"] = {kind: {"products": [], "product_models": [], "groups": []} for kind in item.get("associations") or {}}
    item["quantified_associations"] = {}


def _vary(values: dict, rng: random.Random, number: int) -> None:
    """New EAN/UPC, numbered names, so no two synthetic products read the same."""
    for entries in values.get("name", []), values.get("meta_title", []):
        for entry in entries:
            entry["data"] = f"{entry['data']} {number}"
    for code, digits in (("ean", 13), ("upc", 12)):
        for entry in values.get(code, []):
            entry["data"] = "".join(rng.choice("0123456789") for _ in range(digits))


def _uuid(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:]}"

