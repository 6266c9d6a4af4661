"""report.html: each run's page, self-contained and safe whatever the PIM holds, read back with
lxml as a browser would, and (when Chromium is installed) rendered for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import lxml.html
import pytest

from conftest import ROOT

TOOL = Path(sys.executable).with_name("akeneo-sfcc")
SCRIPT_ID = ' <script>alert(1)</script>"q\''  # a leading space: the product is a record error, its id shown
CONTROL_ID = "ctl\x01\x7f\x85x"  # characters XML cannot carry: a record error too
LONG = "9" * 300  # an EAN longer than SFCC takes: the value is dropped, the mapping line named


def tool(*argv: object, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOL), *map(str, argv)], cwd=cwd, capture_output=True, text=True, timeout=300)


def ean(value: str) -> list[dict]:
    return [{"locale": None, "scope": None, "data": value}]


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    """The folder of a `full` chain run on the demo snapshot plus three bad products."""
    from transformer.cli import demo_snapshot

    folder = tmp_path_factory.mktemp("chain")
    snap = folder / "snap"
    shutil.copytree(demo_snapshot(), snap)
    products = json.loads((snap / "products.json").read_text())
    first = products[0]
    products += [dict(first, identifier=SCRIPT_ID, uuid="u-script"),
                 dict(first, identifier="long-ean", uuid="u-ean", values=dict(first["values"], ean=ean(LONG))),
                 dict(first, identifier="long-ean-2", uuid="u-ean-2", values=dict(first["values"], ean=ean(LONG))),
                 dict(first, identifier=CONTROL_ID, uuid="u-control")]
    (snap / "products.json").write_text(json.dumps(products))
    done = tool("run", "full", "--snapshot", snap, "--out", folder / "out")
    assert done.returncode == 0, done.stderr
    assert "report.html" not in done.stderr, "the page was written without a warning"
    return (folder / "out" / "latest").resolve()


def page(folder: Path) -> tuple[str, lxml.html.HtmlElement]:
    text = (folder / "report.html").read_bytes().decode("utf-8")  # strict: the file is valid UTF-8
    return text, lxml.html.document_fromstring(text)


def job_rows(document) -> dict[str, lxml.html.HtmlElement]:
    rows = document.xpath("//table[contains(@class, 'jobs')]/tbody/tr")
    return {row.xpath("string(.//td[contains(@class, 'job-id')]//span[@class='id-text'])").strip(): row for row in rows}


def assert_self_contained(text: str, document) -> None:
    assert not document.xpath("//script | //link | //img | //iframe | //object | //embed | //base | //form")
    for element in document.iter():
        for name, value in element.attrib.items():
            assert not re.search(r"(?i)(https?|ftp|file|javascript|data):", value), (element.tag, name, value)
            assert not name.lower().startswith("on"), "no event handler"
    assert "url(" not in text and "@import" not in text
    csp = document.xpath("string(//meta[@http-equiv='Content-Security-Policy']/@content)")
    assert "default-src 'none'" in csp, "the browser fetches nothing and runs nothing, whatever slipped through"


def test_every_job_of_the_chain_is_a_row_with_its_status_and_numbers(chain: Path) -> None:
    summary = json.loads((chain / "run.json").read_text())
    text, document = page(chain)
    rows = job_rows(document)
    assert list(rows) == [job["job"] for job in summary["jobs"]] and len(rows) == 8
    for job in summary["jobs"]:
        row = rows[job["job"]]
        badge = row.xpath(".//td[@class='status']/span[contains(@class, 'badge')]")[0]
        assert badge.get("class") == f"badge st-{job['status']}"
        assert row.xpath("string(./td[5])") == f"{job['record_errors']:,}"
        assert row.xpath("string(./td[6])") == f"{job['warnings']:,}"
        for output in job["outputs"]:
            assert output in row.text_content()
        assert row.xpath("string(./td[8])") == f"all → {job['watermark_set']}"
    assert rows["full-import-master"].xpath(".//span[contains(@class, 'badge')]")[0].text == "Succeeded with errors"
    facts = document.xpath("string(//dl[@class='facts'])")
    for shown in (summary["run"], "full --snapshot", summary["pim"], f"akeneo-sfcc {summary['tool_version']}",
                  summary["config"], summary["archive"]):
        assert shown in facts
    assert document.xpath("string(//h1/span)") == "Succeeded"
    assert_self_contained(text, document)
    assert not re.search(r"https?://", text), "no URL at all on a snapshot run's page"


def test_error_groups_show_counts_mapping_line_examples_and_what_was_done(chain: Path) -> None:
    report = json.loads((chain / "reports" / "full-import-master.json").read_text())
    _, document = page(chain)
    (section,) = document.xpath("//section[@class='job-detail'][.//h2[contains(., 'full-import-master')]]")
    rows = section.xpath(".//table[@class='groups']/tbody/tr")
    assert len(rows) == len(report["error_groups"]) == 3
    for row, group in zip(rows, report["error_groups"]):
        assert row.xpath("string(./td[contains(@class, 'count')])") == f"{group['count']:,}"
        assert row.xpath("string(./td[@class='field'])") == group["field"]
        assert row.xpath("string(./td[@class='message'])") == group["message"]
        if "action" in group or any("action" in e for e in report["errors"]):
            assert row.xpath("string(./td[@class='done'])").strip() in {e.get("action") for e in report["errors"]}
    (ean_row,) = [row for row, group in zip(rows, report["error_groups"]) if group["field"] == "EAN"]
    assert ean_row.xpath("string(./td[contains(@class, 'count')])") == "2"
    mapping = next(g["mapping"] for g in report["error_groups"] if g["field"] == "EAN")
    assert re.fullmatch(r"mappings/products\.yaml:\d+:\d+", mapping)
    assert ean_row.xpath("string(./td[@class='mapping']/code)") == mapping
    assert ean_row.xpath("string(./td[@class='mapping']/span[contains(@class, 'source')])") == "EAN: {from: ean}"
    assert [code.text for code in ean_row.xpath("./td[@class='examples']/code")] == ["long-ean", "long-ean-2"]
    listed = section.xpath(".//details[@class='errors']//tbody/tr")
    assert len(listed) == len(report["errors"]) == 4
    assert section.xpath("string(.//details[@class='errors']/summary)") == "All 4 record errors"


def test_markup_quotes_and_control_characters_from_the_pim_are_shown_as_text(chain: Path) -> None:
    text, document = page(chain)
    assert not document.xpath("//script"), "no script element, whatever the ids hold"
    ids = [code.text_content() for code in document.xpath("//code[@class='id']")]
    assert SCRIPT_ID in ids, "the id exactly as the PIM has it, leading space and quotes included"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;q&#39;" in text
    assert "ctl\\x01\\x7f\\x85x" in ids, "control characters spelled out, not sent raw"
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text)


def test_a_failed_run_shows_why(tmp_path: Path, config_dir: Path) -> None:
    template = config_dir / "templates" / "catalog" / "variations.xml.j2"
    template.write_text(template.read_text().replace("{{", "{{ undefined_name.x ~ ", 1))
    done = tool("run", "catalog", "--demo", "--out", tmp_path / "out", "--config", config_dir)
    assert done.returncode == 1
    folder = (tmp_path / "out" / "latest").resolve()
    summary = json.loads((folder / "run.json").read_text())
    text, document = page(folder)
    assert document.xpath("string(//h1/span)") == "Failed"
    assert document.xpath("string(//header//pre[contains(@class, 'reason')])") == summary["reason"]
    rows = job_rows(document)
    assert list(rows) == ["full-import-master", "full-import-master-variation"]
    failed = rows["full-import-master-variation"]
    assert failed.xpath("string(.//span[contains(@class, 'badge')])") == "Failed"
    reason = summary["jobs"][1]["reason"]
    assert "undefined_name" in reason and reason.splitlines()[0] in failed.text_content()
    (section,) = document.xpath("//section[@class='job-detail']")
    assert section.xpath("string(.//pre[contains(@class, 'reason')])") == reason
    assert "Archive" in text and "none written" in document.xpath("string(//dl[@class='facts'])")
    assert_self_contained(text, document)


def test_five_thousand_identical_errors_are_one_group_and_a_small_page(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "attributes.json").write_text(json.dumps([{"code": "sku", "type": "pim_catalog_identifier"},
                                                      {"code": "ean", "type": "pim_catalog_text"}]))
    (snap / "products.json").write_text(json.dumps([{"identifier": f"p{i:05d}", "values": {"ean": ean(LONG)}}
                                                    for i in range(5000)]))
    done = tool("run", "full-import-master", "--snapshot", snap, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    folder = (tmp_path / "out" / "latest").resolve()
    report = json.loads((folder / "reports" / "full-import-master.json").read_text())
    assert len(report["errors"]) == 5000 and len(report["error_groups"]) == 1
    size = (folder / "report.html").stat().st_size
    assert size < 300_000, f"report.html is {size:,} bytes"
    _, document = page(folder)
    (group,) = document.xpath("//table[@class='groups']/tbody/tr")
    assert group.xpath("string(./td[contains(@class, 'count')])") == "5,000"
    assert "and 4,995 more" in group.xpath("string(./td[@class='examples'])")
    assert len(document.xpath("//details[@class='errors']//tbody/tr")) == 1000
    assert "… and 4,000 more in reports/full-import-master.json." in document.xpath(
        "string(//details[@class='errors']/p[@class='more'])")


def test_a_page_that_cannot_be_written_never_hides_how_the_run_ended(monkeypatch, capsys, tmp_path: Path,
                                                                         config_dir: Path) -> None:
    import transformer.pipeline
    from transformer.cli import main

    def broken(summary, path):
        raise OSError("disk full")

    monkeypatch.setattr(transformer.pipeline, "write_html", broken)
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "ok"), "--config", str(config_dir)]) == 0
    assert "report.html not written: disk full" in capsys.readouterr().err
    assert json.loads(next((tmp_path / "ok").glob("*/run.json")).read_text())["status"] == "succeeded"
    template = config_dir / "templates" / "catalog" / "variations.xml.j2"
    template.write_text(template.read_text().replace("{{", "{{ undefined_name.x ~ ", 1))
    code = main(["run", "catalog", "--demo", "--out", str(tmp_path / "failed"), "--config", str(config_dir)])
    err = capsys.readouterr().err
    assert code == 1 and "report.html not written: disk full" in err and "undefined_name" in err
    assert "internal error" not in err and "disk full" not in err.strip().splitlines()[-1], "the run's own error is said"
    summary = json.loads(next((tmp_path / "failed").glob("*/run.json")).read_text())
    assert summary["status"] == "failed" and "undefined_name" in summary["reason"]
    assert not list((tmp_path / "failed").rglob("report.html")) and not list(tmp_path.rglob(".*.tmp"))


def test_whatever_a_report_holds_the_page_is_written_and_safe(tmp_path: Path) -> None:
    """Lone surrogates, NUL, markup in every place a PIM value reaches, a huge message, a pull with
    failed downloads, a PIM URL: the page is valid UTF-8, shows them as text and stays small."""
    from transformer.html_report import write_html
    from transformer.report import RunReport, RunSummary

    nasty = 'a\ud800b\x00c<b onclick="x">&amp;</b>\'"]]>'
    report = RunReport("job<1>", "Title <i>x</i>", "full", run="r1", engine="master-catalog", version=3)
    report.status, report.reason = "failed", f"boom {nasty}"
    report.counts.update({"products": 2, f"k{nasty}": 1})
    report.errors = [{"id": nasty, "field": nasty, "message": "m" * 50_000, "mapping": f"{nasty}:1:1"},
                     {"id": None, "field": None, "message": None}]
    report.warnings = [nasty] * 1500
    report.mapping_warnings = [f"mappings/products.yaml:3:1: {nasty}"]
    report.outputs = [{"output": "catalog", "path": f"catalogs/{nasty}/catalog.xml", "bytes": 123_456, "xsd_valid": False}]
    report.timings = {"map": 0.5, "total": 75.0}
    report.pull = {"items": {"products": 2}, "gone": {}, "read_again": 0, "pages": 1, "downloaded": 1, "unchanged": 0,
                   "download_errors": [{"code": nasty, "message": f"HTTP 404 {nasty}"}], "warnings": [nasty]}
    summary = RunSummary("r1", f"run {nasty}", {"command": ["akeneo-sfcc", "run", nasty], "config": str(tmp_path),
                                                "store": None, "pim": "https://pim.example.com"}, [report],
                         status="failed", reason=nasty)
    write_html(summary, tmp_path / "report.html")
    text, document = page(tmp_path)
    assert_self_contained(text, document)
    assert not document.xpath("//i | //*[@onclick]"), "markup from the PIM is text"
    assert 'a\\ud800b\\x00c<b onclick="x">&amp;</b>\'"]]>' in document.text_content()
    assert "https://pim.example.com" in document.xpath("string(//dl[@class='facts'])"), "the PIM named, as text"
    assert "(49,000 more characters)" in text and len(text) < 200_000
    assert "… and 500 more warnings: see reports/job<1>.json." in document.text_content()
    assert "1 failed" in document.text_content() and "HTTP 404" in document.text_content()
    assert document.xpath("string(//table[contains(@class, 'jobs')]//td[7])") == "1 min 15 s"
    assert not list(tmp_path.glob(".*.tmp"))


# -- the page in a real browser ---------------------------------------------------------------------


def png_pixels(data: bytes):
    """The rows of an 8-bit RGB or RGBA PNG, as bytes objects of pixels (a PNG reader of 30 lines)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous = bytearray(stride)
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - channels] if i >= channels else 0) + previous[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        previous = line
        yield [tuple(line[i:i + 3]) for i in range(0, stride, channels)]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_the_page_renders_in_a_real_browser(chain: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    argv = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
            (chain / "report.html").as_uri()]
    browser = subprocess.Popen(argv, cwd=tmp_path, env=os.environ | {"HOME": str(tmp_path)}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = browser.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        pytest.fail("chromium took more than 60 s to take a screenshot")
    finally:
        if browser.poll() is None:
            os.killpg(browser.pid, signal.SIGKILL)
    assert shot.is_file() and shot.stat().st_size > 20_000, output[-2000:]
    colours: set[tuple] = set()
    green = red = amber = False
    for row in png_pixels(shot.read_bytes()):
        colours.update(row)
        for r, g, b in set(row):
            green |= g > r + 60 and g > b + 30  # a succeeded badge
            red |= r > g + 90 and r > b + 90  # the record error count
            amber |= r > b + 90 and g > b + 40 and r > g  # succeeded with errors
    assert len(colours) > 50, "not a blank page: text, badges and lines are drawn"
    assert green and red and amber, "statuses are shown in colour"
