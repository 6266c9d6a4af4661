"""A week of operations against the fake PIM: a full run, then one differential run a day. Each
day's differential archive holds exactly the ids that day's change touches (deletions included,
in the same run), the same bytes for them as a full run of the PIM as it then is, and the archive
passes the reference checker on top of what SFCC already holds."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import demo_snapshot, main

from conftest import ROOT, archive_of
from fake_akeneo import FakeAkeneo
from sfcc_state import SfccState

pytestmark = pytest.mark.xsd  # each day's archive is imported into the SFCC simulator (XSD order)

MASTER = "site-import/catalogs/akeneo-master"
STOREFRONT = "site-import/catalogs/akeneo-storefront/catalog.xml"
VIDEOS = "asset-families/videos/assets"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Pim:
    """The fake PIM's products, models and video assets, changed day by day."""

    def __init__(self, server: FakeAkeneo):
        self.server = server
        self.products = {p["identifier"]: p for p in json.loads((demo_snapshot() / "products.json").read_text())}
        self.models = {m["code"]: m for m in json.loads((demo_snapshot() / "product-models.json").read_text())}
        self.videos = {a["code"]: a for a in json.loads((demo_snapshot() / f"{VIDEOS}.json").read_text())}

    def change(self, item: dict, **fields) -> None:
        item.update(fields, updated=now())
        self.publish()

    def publish(self) -> None:
        self.server.set_items("products", list(self.products.values()))
        self.server.set_items("product-models", list(self.models.values()))
        self.server.set_items(VIDEOS, list(self.videos.values()))


def elements(root: etree._Element, tag: str, key: str = "product-id") -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    for element in root.iter(f"{{*}}{tag}"):
        found.setdefault(element.get(key), []).append(etree.tostring(element, method="c14n"))
    return found


def written(out: Path) -> dict[str, dict[str, list[bytes]]]:
    """Per output, product id -> the elements the last run in `out` wrote for it."""
    run = out / "latest"
    parse = lambda name: etree.parse(str(run / name)).getroot()  # noqa: E731
    return {"catalog": elements(parse(f"{MASTER}/catalog.xml"), "product"),
            "variations": elements(parse(f"{MASTER}/variations.xml"), "product"),
            "images": elements(parse(f"{MASTER}/images.xml"), "product"),
            "assignments": elements(parse(STOREFRONT), "category-assignment")}


@pytest.fixture
def week(tmp_path: Path, monkeypatch):
    with FakeAkeneo(demo_snapshot()) as server:
        for name, value in {"AKENEO_URL": server.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}.items():
            monkeypatch.setenv(name, value)
        yield Pim(server)


def test_a_week_of_differential_runs(week: Pim, tmp_path: Path, capsys) -> None:
    store, sfcc, day = tmp_path / "store.sqlite", SfccState(), 0
    log: list[str] = []

    def run(chain: str, **expected: set[str]) -> dict[str, dict[str, list[bytes]]]:
        nonlocal day
        day += 1
        out = tmp_path / f"day{day}"
        assert main(["run", chain, "--store", str(store), "--out", str(out), "--config", str(ROOT)]) == 0, \
            capsys.readouterr()
        sfcc.import_archive(archive_of(out))
        assert sfcc.problems(complete=True) == [], f"day {day}: dangling references"
        found = written(out)
        if expected:
            assert {output: set(ids) for output, ids in found.items()} == \
                {output: expected.get(output, set()) for output in found}, f"day {day}"
            full = tmp_path / f"full{day}"  # a full run of the PIM as it now is, on a store of its own
            assert main(["run", "catalog", "--store", str(tmp_path / f"full{day}.sqlite"), "--out", str(full),
                         "--config", str(ROOT)]) == 0
            reference = written(full)
            for output in ("catalog", "variations", "images"):
                for product_id, xml in found[output].items():
                    assert product_id not in reference[output] or xml == reference[output][product_id], \
                        f"day {day}: {output} of {product_id} differs from a full run"
            for product_id, xml in found["assignments"].items():
                kept = [x for x in xml if b'mode="delete"' not in x]
                assert kept == reference["assignments"].get(product_id, []), f"day {day}: assignments of {product_id}"
        log.append(f"day {day}: " + ", ".join(f"{len(ids)} {output}" for output, ids in found.items()))
        return found

    pim = week
    first = run("full")
    assert len(first["catalog"]) == 66  # the demo's products and root models in the site's tree
    assigned = set(first["assignments"])  # variants have none of their own: they inherit their model's

    run("differential", catalog=set(), variations=set(), images=set(), assignments=set())  # no change: nothing

    bottle = pim.products["AC-BOTTLE-STEEL-750"]
    pim.change(bottle, values={**bottle["values"], "name": [{"locale": "en_US", "scope": None, "data": "Flask"}]})
    run("differential", catalog={"AC-BOTTLE-STEEL-750"}, images={"AC-BOTTLE-STEEL-750"}, assignments={"AC-BOTTLE-STEEL-750"})

    pim.change(pim.products["AC-HEADLAMP-450"], categories=["backpacks"])  # moved
    moved = run("differential", catalog={"AC-HEADLAMP-450"}, images={"AC-HEADLAMP-450"}, assignments={"AC-HEADLAMP-450"})
    assert sum(b'mode="delete"' in x for x in moved["assignments"]["AC-HEADLAMP-450"]) == 2

    pim.change(pim.products["TS-CLASSIC-RED-M"], enabled=False)  # a variant: its master's flag and variations too
    run("differential", catalog={"TS-CLASSIC-RED-M", "ts_classic"}, variations={"ts_classic"},
        images={"TS-CLASSIC-RED-M", "ts_classic"}, assignments={"ts_classic"})

    del pim.products["AC-ENERGY-BAR-HONEY"]
    pim.publish()
    deleted = run("differential", catalog={"AC-ENERGY-BAR-HONEY"}, assignments={"AC-ENERGY-BAR-HONEY"})
    assert b"<online-flag>false</online-flag>" in deleted["catalog"]["AC-ENERGY-BAR-HONEY"][0]
    assert all(b'mode="delete"' in x for x in deleted["assignments"]["AC-ENERGY-BAR-HONEY"])

    graphic = {code for code, p in pim.products.items() if p["parent"] == "ts_graphic"}
    for code in graphic:
        del pim.products[code]
    del pim.models["ts_graphic"]
    pim.publish()
    run("differential", catalog=graphic | {"ts_graphic"}, assignments=(graphic | {"ts_graphic"}) & assigned)

    runner = pim.models["sh_trail_runner"]
    pim.change(runner, values={**runner["values"], "name": [{"locale": "en_US", "scope": None, "data": "Trail Runner 2"}]})
    below = {code for code, p in pim.products.items() if p["parent"] == "sh_trail_runner"}
    run("differential", catalog=below | {"sh_trail_runner"}, variations={"sh_trail_runner"},
        images=below | {"sh_trail_runner"}, assignments=(below | {"sh_trail_runner"}) & assigned)

    video = pim.videos["video_oak_table_assembly"]
    pim.change(video, values={**video["values"], "youtube_id": [{"locale": None, "channel": None, "data": "NEWID"}]})
    users = {"fu_oak_table"} | {code for code, p in pim.products.items() if p["parent"] == "fu_oak_table"}
    run("differential", catalog=users, images=users)  # the storefront shows no asset

    backpack = pim.products["AC-BACKPACK-ALPINE-40L"]
    prices = [{"locale": None, "scope": None, "data": [{"amount": "99.00", "currency": "USD"}]}]
    pim.change(backpack, values={**backpack["values"], "price": prices})
    run("differential", catalog={"AC-BACKPACK-ALPINE-40L"}, images={"AC-BACKPACK-ALPINE-40L"},
        assignments={"AC-BACKPACK-ALPINE-40L"})
    print("\n".join(log))
