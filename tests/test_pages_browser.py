"""The reader pages in a real browser (headless Chromium, the session's one
browser): layout measured on the rendered page, on a desktop (1280x800)
and a phone (390x844), in the light and the dark colour scheme; axe-core
(the pinned axe-playwright-python's bundled copy) run in each page.
Screenshots: test-artifacts/pages-<page>-<device>[-dark].png."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request

import pytest

from conftest import ARTIFACTS, Server

DEVICES = {"desktop": {"viewport": {"width": 1280, "height": 800}},
           "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                     "device_scale_factor": 2}}
# Hot searches of every length, the longest longer than a phone is wide.
HOT = ["香港", "選舉", "立法會選舉", "疫苗", "香港 立法会 选举 民主派 建制派 初选 投票率 候选人", "林郑月娥"]


def quote(text: str, safe: str = "/") -> str:
    return urllib.parse.quote(text, safe=safe)


@pytest.fixture(scope="module")
def site(sample_index):
    """One gunicorn for the module, with a query log where one reader makes
    a query hot (the hot searches of the home page)."""
    srv = Server(sample_index, workers=1, extra_env={"SEARCH_HOT_MIN_CLIENTS": "1", "SEARCH_HOT_REFRESH": "0"})
    try:
        for i, q in enumerate(HOT):
            for _ in range(len(HOT) - i):  # the first the most searched
                with urllib.request.urlopen(srv.url + "/search?q=" + quote(q)) as resp:
                    assert resp.status == 200
        yield srv
    finally:
        srv.stop()


def api(site, path: str) -> dict:
    with urllib.request.urlopen(site.url + path) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def contexts(browser):
    """A browser context per (device, colour scheme), made when first asked."""
    made = {}

    def get(device: str, scheme: str = "light"):
        if (device, scheme) not in made:
            made[device, scheme] = browser.new_context(color_scheme=scheme, **DEVICES[device])
        return made[device, scheme]

    yield get
    for ctx in made.values():
        ctx.close()


@pytest.fixture
def open_page(contexts):
    """open_page(url, device, scheme) -> a loaded page; script errors fail
    the test; pages are closed after it."""
    pages, errors = [], []

    def go(url: str, device: str = "desktop", scheme: str = "light"):
        page = contexts(device, scheme).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        pages.append(page)
        page.goto(url)
        return page

    yield go
    for page in pages:
        page.close()
    assert not errors, errors


def box(locator) -> dict:
    b = locator.bounding_box()
    assert b is not None, "not rendered"
    return b


def axe_violations(page) -> list[str]:
    """axe-core run in the page: the serious and critical violations, as
    'rule: first offending element' lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} {v['help']}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def shot(page, name: str, device: str, scheme: str = "light", full_page: bool = True) -> None:
    suffix = "-dark" if scheme == "dark" else ""
    page.screenshot(path=os.path.join(ARTIFACTS, f"pages-{name}-{device}{suffix}.png"), full_page=full_page)


def article_lang(site, doc_id: str) -> str | None:
    """The article's stored ``lang`` (the sample's articles all declare one)."""
    return api(site, "/api/articles/" + quote(doc_id, safe=""))["lang"]


def first_article(site, q: str, lang: str) -> dict:
    hits = [h for h in api(site, "/api/search?size=20&q=" + quote(q))["hits"] if article_lang(site, h["id"]) == lang]
    assert hits, f"a {lang} article for {q}"
    return hits[0]


# ---- every page: axe, the skip link, screenshots ------------------------------

PAGES = {"home": "/", "results": "/search?q=" + quote("立法會 選舉"),
         "no-results": "/search?q=" + quote('"沒有這篇報道的短語"'), "advanced": "/advanced"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("name", ["home", "results", "no-results", "article", "advanced"])
def test_no_serious_accessibility_violations(site, open_page, name, device, scheme):
    """axe-core finds no serious or critical violation (contrast in both
    colour schemes, names, labels, landmarks, lang) on any page, and the
    first Tab reaches the skip link, which leads to the page's main part."""
    if name == "article":
        path = "/articles/" + quote(first_article(site, "立法會", "zh-Hant")["id"], safe="") + "?q=" + quote("立法會")
    else:
        path = PAGES[name]
    page = open_page(site.url + path, device, scheme)
    if name == "no-results":
        assert page.locator("#total").inner_text() == "0" and page.locator(".empty").is_visible()
    shot(page, name, device, scheme)
    assert axe_violations(page) == []
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.get_attribute("class") == "skip-link" and skip.is_visible()
    target = skip.get_attribute("href")
    assert target == ("#results" if name in ("results", "no-results") else "#main")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == target[1:]


def test_dark_scheme_changes_the_colours(site, open_page):
    """prefers-color-scheme: dark gives a dark page with light text (the
    custom properties' second set), light gives the reverse."""
    def colours(scheme):
        page = open_page(site.url + PAGES["results"], "desktop", scheme)
        return page.evaluate("""() => {
            const lum = c => { const [r, g, b] = c.match(/\\d+/g).map(Number); return (r + g + b) / 3; };
            const body = getComputedStyle(document.body);
            return [lum(body.backgroundColor), lum(body.color)]; }""")
    light_bg, light_ink = colours("light")
    dark_bg, dark_ink = colours("dark")
    assert light_bg > 200 > 60 > light_ink
    assert dark_bg < 60 < 200 < dark_ink


# ---- home: hot searches ---------------------------------------------------------

@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_hot_search_numbers_sit_with_their_own_items(site, open_page, device):
    page = open_page(site.url + "/", device)
    items = page.locator("ol.hot > li")
    assert set(HOT) <= set(page.locator("ol.hot > li a").all_inner_texts())  # (and the module's other searches)
    width = page.viewport_size["width"]
    boxes = []
    for i in range(items.count()):
        item, rank, link = box(items.nth(i)), box(items.nth(i).locator(".rank")), box(items.nth(i).locator("a"))
        assert items.nth(i).locator(".rank").inner_text() == f"{i + 1}."
        # The number: inside its item's box, left of its text, on its first line.
        assert item["x"] <= rank["x"] and rank["x"] + rank["width"] <= link["x"] + 0.5
        assert item["y"] <= rank["y"] and rank["y"] + rank["height"] <= item["y"] + item["height"] + 0.5
        assert rank["y"] < link["y"] + link["height"]
        assert item["x"] + item["width"] <= width  # wraps on a phone, never runs off the page
        boxes.append(item)
    # No item overlaps another (the old numbers sat over the previous item).
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                     or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, (a, b)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# ---- results: desktop and phone ---------------------------------------------------

def test_results_on_a_desktop_show_the_filters_beside_them(site, open_page):
    page = open_page(site.url + PAGES["results"], "desktop")
    assert page.locator(".filters-toggle > summary").is_hidden()
    facet = page.locator("section.facet[data-facet=category] li a").first
    assert facet.is_visible()
    assert box(page.locator("aside.filters"))["x"] + 50 < box(page.locator("ol.hits li.hit").first)["x"]


def test_results_on_a_phone_come_first_and_filters_open_from_a_toggle(site, open_page):
    page = open_page(site.url + PAGES["results"], "phone")
    shot(page, "results-fold", "phone", full_page=False)
    first = page.locator("ol.hits li.hit h3").first
    fold = page.viewport_size["height"]
    assert box(first)["y"] + box(first)["height"] <= fold  # the first result above the fold
    facet = page.locator("section.facet[data-facet=category] li a").first
    assert not facet.is_visible()
    # The toggle is a real <summary>: reached with Tab, opened with Enter,
    # announced as expanded (no script needed: <details>).
    summary = page.locator(".filters-toggle > summary")
    assert summary.is_visible()
    summary.focus()
    page.keyboard.press("Enter")
    assert facet.is_visible()
    assert page.locator(".filters-toggle").get_attribute("open") is not None
    shot(page, "results-filters-open", "phone", full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_filters_toggle_works_without_javascript(site, browser):
    ctx = browser.new_context(java_script_enabled=False, **DEVICES["phone"])
    try:
        page = ctx.new_page()
        page.goto(site.url + PAGES["results"])
        facet = page.locator("section.facet[data-facet=category] li a").first
        assert not facet.is_visible()
        page.locator(".filters-toggle > summary").click()
        assert facet.is_visible()
    finally:
        ctx.close()


# ---- the coverage timeline ----------------------------------------------------------

def test_timeline_is_a_list_of_named_links_reached_with_the_keyboard(site, open_page):
    page = open_page(site.url + "/search?group=0&q=" + quote("香港"), "desktop")
    links = page.locator("ol#timeline > li > a")
    n = links.count()
    assert n > 3
    timeline = api(site, "/api/timeline?q=" + quote("香港"))
    # Each link is named by its period and count (what a screen reader says),
    # with the bar drawn but hidden from the accessibility tree.
    names = [links.nth(i).evaluate("a => a.textContent") for i in range(n)]
    assert all("（" in name and name.endswith(" 篇") for name in names)
    assert [int(name.split("：")[1].split(" ")[0]) for name in names] == [b["count"] for b in timeline["buckets"]]
    snapshot = page.locator("ol#timeline").aria_snapshot()
    assert snapshot.count("- link ") == n and names[0] in snapshot
    assert page.locator("ol#timeline svg[aria-hidden=true]").count() == n
    # Taller bars for more articles.
    counts = [int(name.split("：")[1].split(" ")[0]) for name in names]
    heights = [box(links.nth(i).locator("rect"))["height"] for i in range(n)]
    top, low = counts.index(max(counts)), counts.index(min(counts))
    assert heights[top] > heights[low]
    # Keyboard: focus moves from one bar's link to the next.
    links.nth(0).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == names[1]


# ---- the article page: its language, the query's terms ---------------------------------

@pytest.mark.parametrize("lang,q", [("zh-Hant", "立法會 選舉"), ("zh-Hans", "疫苗 接种")])
def test_article_and_results_carry_the_articles_language(site, open_page, lang, q):
    page = open_page(site.url + "/search?q=" + quote(q), "desktop")
    hits = api(site, "/api/search?q=" + quote(q))["hits"]
    shown = page.locator("ol.hits li.hit")
    langs = {article_lang(site, h["id"]) for h in hits}
    assert langs <= {"zh-Hant", "zh-Hans"} and lang in langs
    for i, h in enumerate(hits):
        assert shown.nth(i).locator("h3").get_attribute("lang") == article_lang(site, h["id"])
        assert shown.nth(i).locator("p.snippet").get_attribute("lang") == article_lang(site, h["id"])
    art = first_article(site, q, lang)
    page = open_page(site.url + "/articles/" + quote(art["id"], safe=""), "desktop")
    assert page.locator("article h1").get_attribute("lang") == lang
    assert page.locator("article .body").get_attribute("lang") == lang
    # <html lang> is the interface's language: the home page's, whatever the article's.
    home = open_page(site.url + "/", "desktop")
    assert page.locator("html").get_attribute("lang") == home.locator("html").get_attribute("lang")


@pytest.mark.parametrize("q", ["立法會 選舉", "立法会 选举"])
def test_terms_marked_on_the_article_reached_from_results(site, open_page, q):
    """Both scripts: the result link carries the query; the article page
    marks the same terms in its title as the results page did, and in the
    body; without q nothing is marked."""
    page = open_page(site.url + "/search?q=" + quote(q), "desktop")
    link = page.locator("ol.hits li.hit h3 a").first
    result_marks = link.locator("mark").all_inner_texts()
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(link.get_attribute("href")).query) == {"q": [q]}
    link.click()
    page.wait_for_selector("article h1")
    assert page.locator("article h1 mark").all_inner_texts() == result_marks
    body_marks = page.locator("article .body mark").all_inner_texts()
    assert body_marks and all(re.fullmatch("(立法[會会]|[選选][舉举])+", m) for m in body_marks), body_marks
    shot(page, "article-marked", "desktop")
    plain = open_page(page.url.split("?")[0], "desktop")
    assert plain.locator("article mark").count() == 0
    assert plain.locator("article h1").inner_text() == page.locator("article h1").inner_text()


# ---- the advanced search form on a phone ------------------------------------------------

# The width of each placeholder in its field's own font, and the room its text box has.
PLACEHOLDER_FIT = """() => [...document.querySelectorAll('input[placeholder]')].filter(el => el.offsetParent).map(el => {
    const s = getComputedStyle(el);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = s.font;
    const room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    return [el.placeholder, ctx.measureText(el.placeholder).width, room]; })"""


def cut_placeholders(page) -> list[str]:
    """The placeholders of the visible inputs of ``page`` that do not fit in their field."""
    return [text for text, width, room in page.evaluate(PLACEHOLDER_FIT) if width > room]


def test_advanced_form_on_a_phone_is_one_column_with_whole_placeholders(site, open_page):
    page = open_page(site.url + "/advanced", "phone")
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    fields = page.locator(".advanced-form input[placeholder]")
    assert fields.count() >= 8
    for i in range(fields.count()):
        field = fields.nth(i)
        placeholder = field.get_attribute("placeholder")
        # The placeholder's width in the field's own font fits its text box.
        text_width, room = field.evaluate("""el => {
            const s = getComputedStyle(el);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = s.font;
            const room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            return [ctx.measureText(el.placeholder).width, room]; }""")
        assert text_width <= room, placeholder
        assert field.evaluate("el => el.scrollWidth <= el.clientWidth"), placeholder
        # One column: every text field nearly the form's width.
        assert box(field)["width"] >= 0.7 * box(page.locator(".advanced-form fieldset").first)["width"], placeholder
    same_a = page.locator("#adv-same-a")
    assert same_a.get_attribute("placeholder") == "林郑月娥"
