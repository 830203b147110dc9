"""The lab's report in a real browser: headless Chromium (Debian's, driven by Selenium)
opens every page from ``file://``; each loads with its stylesheet, no image is broken,
every link leads to a file of the site that loads (and to an element for a ``#``
fragment), and the front page is not blank.

``make test`` installs Chromium and ChromeDriver (see the Makefile). Without them (or
Selenium) the test is skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlsplit

import matplotlib.image
import pytest

from experiments.lab.catalog import load_catalog
from experiments.lab.report import load_lab, write_site
from experiments.lab.runner import run_experiment

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
except ImportError:  # the test extra is not installed
    webdriver = None

# One round trip per page: what the test checks, gathered by the browser.
PAGE_FACTS = """
const images = Array.from(document.images);
return {
  ready: document.readyState,
  root: document.documentElement.nodeName.toLowerCase(),
  title: document.title,
  main: document.querySelector("main") !== null,
  background: document.body ? getComputedStyle(document.body).backgroundColor : "",
  brokenImages: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
  images: images.length,
  links: Array.from(document.querySelectorAll("a[href]")).map(a => a.getAttribute("href")),
  ids: Array.from(document.querySelectorAll("[id]")).map(e => e.id),
};
"""

#: body's background in report.css, #fdfdfb: the stylesheet was applied.
STYLED_BACKGROUND = "rgb(253, 253, 251)"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; `make test` installs it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under ChromeDriver, both from Debian's packages."""
    if webdriver is None:
        unavailable("selenium is not installed (the test extra: pip install -e '.[test]')")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        unavailable("Chromium or ChromeDriver is not installed (apt: chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,900",
    ):
        options.add_argument(argument)
    try:
        session = webdriver.Chrome(service=Service(driver), options=options)
    except WebDriverException as exc:
        unavailable(f"Chromium did not start: {exc.msg}")
    session.set_page_load_timeout(20)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The report of every catalog question at the quick size, with linear-stack's
    result (its figure included) and every other experiment not run yet."""
    root = tmp_path_factory.mktemp("lab-results")
    run_experiment("linear-stack", "quick", 0, root=root)
    out = tmp_path_factory.mktemp("site")
    write_site(load_lab(load_catalog(), "quick", 0, root), out)
    return out


def visit(browser, path: Path) -> dict:
    browser.get(path.as_uri())
    return browser.execute_script(PAGE_FACTS)


def link_target(page: Path, href: str, site: Path) -> tuple[Path, str]:
    """The file and fragment a relative ``href`` on ``page`` points to."""
    parts = urlsplit(href)
    assert not parts.scheme and not parts.netloc and not href.startswith("/"), (page, href)
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    assert target.is_file() and target.is_relative_to(site.resolve()), (page, href)
    return target, parts.fragment


def test_every_page_loads_with_its_images_and_links(browser, site):
    pages = [site / "index.html", *sorted((site / "questions").glob("*.html"))]
    facts = {page.resolve(): visit(browser, page) for page in pages}
    targets: set[tuple[Path, str]] = set()
    for page, seen in facts.items():
        assert seen["ready"] == "complete" and seen["main"] and seen["title"], page
        assert seen["background"] == STYLED_BACKGROUND, f"{page}: style.css not applied"
        assert seen["brokenImages"] == [], page
        targets |= {link_target(page, href, site) for href in seen["links"]}
    assert facts[(site / "questions" / "why-non-linearity.html").resolve()]["images"] >= 1

    for target, fragment in sorted(targets):
        if target not in facts:  # the SVGs the figures link to
            facts[target] = visit(browser, target)
        seen = facts[target]
        assert seen["ready"] == "complete", target
        assert seen["root"] == ("svg" if target.suffix == ".svg" else "html"), target
        assert not fragment or fragment in seen["ids"], (target, fragment)


def test_front_page_is_not_blank(browser, site, tmp_path):
    browser.get((site / "index.html").as_uri())
    png = browser.get_screenshot_as_png()
    (tmp_path / "index.png").write_bytes(png)  # kept for a look when this fails
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0.05, f"the front page looks blank (std {pixels.std():.4f})"
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert dark > 0.005, f"hardly any text on the front page ({dark:.2%} dark pixels)"
