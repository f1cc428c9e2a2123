"""The report as a person reads it: text from saved runs stays text, plots draw what they
have, and the page in a real browser fits its width with every plot at a legible size.

The browser tests drive Debian's Chromium through Selenium and skip, saying what to
install, where either is missing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fixtures.runs import ceiling, record, saved_run, write

from accelbench.__main__ import main
from accelbench.report import plots
from accelbench.results.views import Series

DEVICES = ("cpu", "mps", "cuda")
SCRIPT = "<script>alert(1)</script>"
MATHTEXT = r"GPU $\undefinedmacro{x}$ \frac"
LEGIBLE_SCALE = 0.7  # a plot shown below 70% of its own size has unreadable labels
VIEWPORT = (1024, 768)


def report_of(tmp_path: Path, entries: list[dict], **run: str) -> Path:
    path = write(tmp_path / "run.json", saved_run(entries, **run))
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    return tmp_path / "out"


def attention(device: str, lengths: tuple[int, ...], label: str | None = None) -> list[dict]:
    return [
        record(
            "attention",
            device,
            "infer",
            1e-8 * n**2,
            variant=f"sdpa-L={n}",
            items=n,
            item_unit="tokens",
            label=label,
        )
        for n in lengths
    ]


# Text from saved runs ---------------------------------------------------------------------


def test_markup_in_names_and_machine_labels_comes_out_as_inert_text(tmp_path):
    entries = [
        record("cnn", "cpu", "train", 8e-3),
        record("cnn", "cuda", "train", 1e-3, label=f"{SCRIPT} [x](javascript:alert(1))"),
    ]
    out = report_of(tmp_path, entries, cpu=SCRIPT)
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    # Markdown shows a backslash-escaped character as itself, never as markup
    assert not re.search(r"(?<!\\)<script", markdown)
    assert not re.search(r"(?<!\\)\]\(javascript:", markdown)
    assert "<script" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text


def test_a_name_that_looks_like_mathtext_is_drawn_as_written(tmp_path):
    entries = [record("cnn", "cpu", "train", 8e-3), record("cnn", "cuda", "train", 1e-3)]
    entries[1]["extra_info"]["device_label"] = MATHTEXT
    out = report_of(tmp_path, entries, cpu=MATHTEXT)
    assert (out / "speedup.png").is_file()
    assert r"GPU \$\\undefinedmacro{x}\$ \\frac" in (out / "report.md").read_text()


def test_plain_text_keeps_dollars_and_backslashes_out_of_mathtext():
    from matplotlib.figure import Figure

    fig = Figure()
    shown = fig.text(0, 0, plots.plain(MATHTEXT))
    fig.canvas.draw()  # mathtext would raise ParseFatalException on \undefinedmacro
    assert not shown._preprocess_math(shown.get_text())[1]


# Plots of one point -----------------------------------------------------------------------


def test_a_sweep_of_one_length_gets_its_table_and_no_curve(tmp_path):
    out = report_of(tmp_path, [*attention("cpu", (512,)), *attention("cuda", (512,))])
    assert not (out / "attention.png").exists()
    markdown = (out / "report.md").read_text()
    assert "| implementation and device | lengths | fitted slope (time ~ L^p) |" in markdown


def test_a_series_of_one_point_beside_longer_ones_is_a_marker_not_a_line(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or path)
    series = [
        Series("sdpa on cpu", [128, 256, 512], [1e-3, 4e-3, 1.6e-2], 2.0, None),
        Series("sdpa on cuda", [512], [1e-4], None, None),
    ]
    plots.attention_plot(series, tmp_path / "attention.png", "machine")
    (ax,) = drawn[0].axes
    styles = {line.get_label().split(":")[0]: line.get_linestyle() for line in ax.lines}
    assert styles == {"sdpa on cpu": "-", "sdpa on cuda": "None"}


# The page in a browser --------------------------------------------------------------------


def crowded_entries() -> list[dict]:
    """A run with many cases of long names on three devices: wide tables, many bars, a
    modes table, and a machine label with markup in it."""
    entries = []
    for device in DEVICES:
        entries += ceiling(device, 10.0, 100.0)
        for layers in range(1, 15):
            variant = f"layers={layers}-heads=16-ffn=4096-vocabulary=32000-context=8192-rope=yarn"
            median = 1e-3 * layers * (4 if device == "cpu" else 1)
            entries.append(record("transformer", device, "train", median, variant=variant))
        for mode, median in (("eager", 2e-2), ("compile", 1e-2)):
            entry = record("resnet18", device, "train", median * (4 if device == "cpu" else 1))
            entry["extra_info"].update(mode=mode, memory_format="", recompiles_timed=0)
            entries.append(entry)
    entries += attention("cpu", (128, 256, 512, 1024)) + attention("cuda", (1024,), SCRIPT)
    return entries


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip(
        "selenium.webdriver",
        reason="selenium is not installed: pip install -r requirements-dev.txt",
    )
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip(
            "no Chromium or chromedriver on the PATH: apt-get install -y chromium chromium-driver"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    # A profile of its own: two sessions sharing one (TMPDIR itself) fail to start the second.
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    width, height = VIEWPORT
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    out = report_of(folder, crowded_entries(), cpu=SCRIPT)
    browser.get((out / "report.html").as_uri())
    browser.save_screenshot(str(folder / "report.png"))
    return browser


OVERFLOWING = """
const scrolls = (el) => ["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX);
const found = [];
for (const el of document.body.querySelectorAll("*")) {
  const parent = el.parentElement;
  if (scrolls(parent)) continue;
  const box = el.getBoundingClientRect(), room = parent.getBoundingClientRect();
  if (box.right > room.right + 1 || box.left < room.left - 1) {
    found.push(`${el.tagName} ${Math.round(box.width)}px in ${parent.tagName} ` +
               `${Math.round(room.width)}px: ${(el.textContent || el.alt || "").slice(0, 50)}`);
  }
}
return found;
"""

PLOT_SCALES = """
return Array.from(document.images).map(
  (img) => [img.alt, img.naturalWidth, img.getBoundingClientRect().width]);
"""


def test_the_page_is_no_wider_than_the_window(page):
    assert page.execute_script("return document.documentElement.scrollWidth") <= VIEWPORT[0]


def test_no_element_is_wider_than_its_container(page):
    assert page.execute_script(OVERFLOWING) == []


def test_every_plot_is_shown_at_a_legible_size(page):
    shown = page.execute_script(PLOT_SCALES)
    assert len(shown) >= 2  # the speedup and throughput plots at least
    small = [(alt, f"{width / natural:.2f}") for alt, natural, width in shown]
    assert all(natural > 0 and width / natural >= LEGIBLE_SCALE for _, natural, width in shown), (
        small
    )


def test_markup_from_the_run_runs_nothing_in_the_browser(page):
    assert page.execute_script("return document.scripts.length") == 0
    assert SCRIPT in page.find_element("tag name", "body").text


def test_cpu_rows_show_no_speedup_over_the_cpu(page):
    cells = page.execute_script(
        """
        const rows = [];
        for (const table of document.querySelectorAll("table")) {
          const head = Array.from(table.querySelectorAll("th")).map((th) => th.textContent);
          const device = head.indexOf("device"), speedup = head.indexOf("speedup over CPU");
          if (device < 0 || speedup < 0) continue;
          for (const tr of table.querySelectorAll("tbody tr")) {
            const td = tr.querySelectorAll("td");
            rows.push([td[device].textContent, td[speedup].textContent]);
          }
        }
        return rows;
        """
    )
    cpu = [speedup for device, speedup in cells if "(CPU" in device]
    assert cpu and set(cpu) == {"—"}
