"""Real browser: headless Chromium (Debian package) driven by Playwright."""

import os
import urllib.parse

import pytest

from conftest import ARTIFACTS



def watched_page(browser):
    """A desktop-sized page and the list its script errors and console
    errors are collected in."""
    errors = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def test_search_filter_and_article_in_a_real_browser(browser, server):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page, errors = watched_page(browser)
    page.goto(server.url + "/")
    page.fill("#q", "立法會 選舉")
    page.press("#q", "Enter")
    page.wait_for_selector("ol.hits li.hit")
    assert page.locator("ol.hits li.hit").count() == 10
    assert page.locator("ol.hits mark").count() > 0
    total = int(page.locator("#total").inner_text())
    page.screenshot(path=os.path.join(ARTIFACTS, "search-results.png"), full_page=True)
    # Apply the first category filter: fewer results, all in that category.
    first = page.locator("section.facet[data-facet=category] li a").first
    category = first.inner_text()
    first.click()
    page.wait_for_selector("section.facet[data-facet=category] a.on")
    filtered = int(page.locator("#total").inner_text())
    assert 0 < filtered <= total
    cats = page.locator("ol.hits .category").all_inner_texts()
    assert cats and set(cats) == {category}
    # Open the first article and see related articles.
    page.locator("ol.hits li.hit h3 a").first.click()
    page.wait_for_selector("article.article h1")
    assert page.locator("aside.related li a").count() > 0
    page.screenshot(path=os.path.join(ARTIFACTS, "article.png"), full_page=True)
    assert not errors, errors


def test_suggestion_dropdown_with_the_keyboard(browser, server):
    """Type, wait for the debounced suggestions, pick the second with the
    arrow keys and Enter: the search runs for it."""
    errors = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.locator("#q").press_sequentially("中", delay=50)
    page.wait_for_selector("#suggestions li[role=option]", timeout=30000)
    options = page.locator("#suggestions li[role=option]").all_inner_texts()
    assert len(options) >= 2 and all(o.startswith("中") for o in options)
    assert page.get_attribute("#q", "aria-expanded") == "true"
    page.screenshot(path=os.path.join(ARTIFACTS, "suggestions.png"))
    page.press("#q", "ArrowDown")
    page.press("#q", "ArrowDown")
    assert page.get_attribute("#suggestion-1", "aria-selected") == "true"
    assert page.get_attribute("#q", "aria-activedescendant") == "suggestion-1"
    with page.expect_navigation():
        page.press("#q", "Enter")
    assert urllib.parse.unquote(page.url.split("q=")[1].split("&")[0].replace("+", " ")) == options[1]
    page.wait_for_selector("ol.hits li.hit")
    # Escape closes the list.
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("xianggang", delay=30)
    page.wait_for_selector("#suggestions li[role=option]", timeout=30000)
    assert "香港" in page.locator("#suggestions").inner_text()
    page.press("#q", "Escape")
    assert page.locator("#suggestions").is_hidden()
    assert not errors, errors


def test_coverage_timeline_narrows_the_dates(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # Bars count articles: list every article (group=0) so the totals compare.
    page.goto(server.url + "/search?group=0&q=" + urllib.parse.quote("香港"))
    page.wait_for_selector("ol#timeline li a rect.bar")
    total = int(page.locator("#total").inner_text())
    bars = page.locator("ol#timeline li a")
    assert bars.count() > 3
    page.screenshot(path=os.path.join(ARTIFACTS, "timeline.png"))
    # The tallest bar: its label says how many articles; clicking shows just those.
    labels = [bars.nth(i).text_content() for i in range(bars.count())]
    counts = [int(label.split("：")[1].split(" ")[0]) for label in labels]
    best = counts.index(max(counts))
    with page.expect_navigation():
        bars.nth(best).click()
    assert "from=" in page.url and "to=" in page.url
    narrowed = int(page.locator("#total").inner_text())
    assert narrowed == counts[best] < total


def test_author_tag_year_facets_on_request(browser, server):
    """The default page counts 栏目 and 来源 only; 更多筛选 adds 作者, 标签,
    年份 under them, and a year's link shows exactly its count."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page, errors = watched_page(browser)
    page.goto(server.url + "/search?group=0&q=" + urllib.parse.quote("香港"))
    assert page.locator("section.facet").count() == 2
    with page.expect_navigation():
        page.locator("p.more-facets a").click()
    names = [page.locator("section.facet").nth(i).get_attribute("data-facet")
             for i in range(page.locator("section.facet").count())]
    assert names == ["category", "source", "author", "tag", "year"]
    assert page.locator("section.facet[data-facet=year] h2").inner_text() == "年份"
    page.screenshot(path=os.path.join(ARTIFACTS, "facets-on-request.png"), full_page=True)
    year = page.locator("section.facet[data-facet=year] li").first
    count = int(year.locator(".count").inner_text())
    with page.expect_navigation():
        year.locator("a").click()
    assert "year=" in page.url and int(page.locator("#total").inner_text()) == count
    assert page.locator("section.facet[data-facet=year] a.on").count() == 1
    assert not errors, errors


def test_mobile_layout(browser, server):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(server.url + "/search?q=" + urllib.parse.quote("疫苗"))
    page.wait_for_selector("ol.hits li.hit")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=os.path.join(ARTIFACTS, "search-mobile.png"), full_page=False)


def test_no_script_runs_from_article_text(browser, tmp_path):
    """Payloads in every field of an article (and of its near-duplicate and a
    related article), and in queries: every page renders them as text."""
    from conftest import STAFF_TOKEN, Server, digest, write_jsonl
    from indexer import pipeline

    payload = {
        "title": '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> 标题 智慧公交',
        "body": ('<svg onload="window.pwned=3"></svg> 正文 "引号" & 符号，智慧公交站投入使用，市民可以实时查看车辆到站信息。\n'
                 '<iframe src="javascript:window.pwned=6"></iframe> 第二段：站台配备太阳能顶棚和无线充电座椅，夜间照明自动调节亮度。'),
        "author": "<b onclick=x>记者</b>", "source": "<i onmouseover=window.pwned=7>来源</i>",
        "category": '"><script>window.pwned=8</script>', "tags": ["<img src=x onerror=window.pwned=9>"],
        "url": "javascript:window.pwned=5", "published": "2024-03-18T09:30:00+08:00"}
    ix = str(tmp_path / "ix")
    src = write_jsonl(tmp_path / "x.jsonl", [
        {"id": "xss", **payload},
        {"id": "xss-copy", **payload, "published": "2024-03-18T11:00:00+08:00"},  # a near-duplicate
        {"id": "xss-later", **payload, "title": payload["title"] + "（续）",
         "body": payload["body"] + "\n后续报道：更多站台将在年内建成。", "published": "2024-03-25T09:00:00+08:00"}])
    pipeline.build(ix, [src], workers=1, progress=False)
    srv = Server(ix, workers=1, extra_env={"SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN)})
    try:
        page = browser.new_page()
        page.goto(srv.url + "/staff/login")
        page.fill("#token", STAFF_TOKEN)
        page.click("#login-submit")  # staff: the export links and the query report render too
        for path in ["/search?q=" + urllib.parse.quote("标题"), "/search?q=" + urllib.parse.quote("智慧公交"),
                     "/articles/xss", "/articles/xss-copy", "/articles/xss-later",
                     "/search?q=" + urllib.parse.quote('<script>window.pwned=4</script>'),
                     "/advanced?all=" + urllib.parse.quote('<img src=x onerror=window.pwned=10>'),
                     "/search?tag=" + urllib.parse.quote(payload["tags"][0]), "/staff/queries", "/"]:
            page.goto(srv.url + path)
            for details in page.locator("details").all():
                if details.locator("summary").is_visible():  # (the filters' toggle is a phone's)
                    details.locator("summary").click()  # open every near-duplicate list
            assert page.evaluate("window.pwned") is None, path
        page.goto(srv.url + "/articles/xss")
        assert "<script>window.pwned=1</script>" in page.locator("article h1").inner_text()
        assert page.locator("a[href^='javascript']").count() == 0
    finally:
        srv.stop()


def test_near_duplicates_grouped_and_expandable(browser, server):
    """The sample holds real republished versions (特首民投 on 12 March 2017):
    one result with "N 篇相似报道" that opens to list the copies."""
    import json
    import urllib.request

    q = "特首民投"
    with urllib.request.urlopen(server.url + "/api/search?q=" + urllib.parse.quote(q)) as resp:
        api = json.load(resp)
    grouped = [h for h in api["hits"] if h.get("similar_count")]
    assert grouped, "a real near-duplicate group in the sample"
    copy_id = grouped[0]["similar"][0]["id"]
    os.makedirs(ARTIFACTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/search?q=" + urllib.parse.quote(q))
    details = page.locator("li.hit details.similar").first
    assert "篇相似报道" in details.locator("summary").inner_text()
    from_results = f"/articles/{copy_id}?q={urllib.parse.quote(q)}"  # result links carry the query
    link = details.locator(f'a[href="{from_results}"]')
    assert not link.is_visible()  # collapsed until asked
    details.locator("summary").click()
    assert link.is_visible()
    page.screenshot(path=os.path.join(ARTIFACTS, "near-duplicates.png"), full_page=True)
    # Every article, one by one: the copy becomes a result of its own.
    page.locator(".grouping a").click()
    page.wait_for_url("**group=0**")
    assert page.locator(f'ol.hits h3 a[href="{from_results}"]').count() == 1
    # The copy's page lists its near-duplicates and the story around it.
    page.goto(server.url + f"/articles/{copy_id}")
    assert page.locator(".near-duplicates li a").count() >= 1
    assert page.locator(".coverage li.this").count() == 1


def test_advanced_search_form(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/")
    page.click("a.advanced-link")
    page.fill("#adv-all", "香港")
    page.select_option("#adv-scope", "lead")
    page.fill("#adv-none", "体育")
    page.select_option("#adv-sort", "newest")
    page.screenshot(path=os.path.join(ARTIFACTS, "advanced-search.png"), full_page=True)
    page.click("#adv-submit")
    page.wait_for_selector("ol.hits li.hit")
    assert page.input_value("#q") == "lead:香港 -体育"  # a query staff can read and edit
    assert "sort=newest" in page.url
    dates = page.locator("ol.hits time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True)


def test_how_the_query_was_read_in_a_real_browser(browser, server):
    """A notice (w/x is no operator), a proximity query and partial matches,
    as readers see them: screenshots in test-artifacts/."""
    import json
    import urllib.request

    os.makedirs(ARTIFACTS, exist_ok=True)
    page, errors = watched_page(browser)

    page.goto(server.url + "/")
    page.fill("#q", "香港 w/x 选举")
    page.press("#q", "Enter")
    page.wait_for_selector("ol.hits li.hit")
    notice = page.locator("p.query-notice")
    assert notice.count() == 1 and notice.is_visible()
    assert notice.inner_text().startswith("「w/x」不是有效的运算符，未按运算符处理。")
    assert page.locator("p.understood").inner_text() == "系统对查询的理解：同时含「香港」和「选举」"
    page.screenshot(path=os.path.join(ARTIFACTS, "query-notice.png"), full_page=False)

    page.goto(server.url + "/search?q=" + urllib.parse.quote("香港 w/5 选举"))
    page.wait_for_selector("ol.hits li.hit")
    assert page.locator("p.query-notice").count() == 0
    assert page.locator("p.understood").inner_text() == "系统对查询的理解：「香港」与「选举」相距不超过 5 个词"
    assert page.input_value("#q") == "香港 w/5 选举"
    assert page.locator("ol.hits li.hit .missing").count() == 0  # exact: only full matches
    page.screenshot(path=os.path.join(ARTIFACTS, "proximity.png"), full_page=False)

    q = urllib.parse.quote("疫苗 立法会")
    with urllib.request.urlopen(server.url + "/api/search?q=" + q) as resp:
        api = json.load(resp)
    page.goto(server.url + "/search?q=" + q)
    page.wait_for_selector("ol.hits li.hit")
    partial = page.locator("p.notice.partial")
    assert partial.is_visible()
    assert partial.inner_text().startswith(f"只有 {api['total_full']} 条结果同时包含全部关键词")
    missing = page.locator("ol.hits li.hit .missing")
    lacking = [h for h in api["hits"] if not h["match"]["full"]]
    assert missing.count() == len(lacking) > 0
    assert missing.first.is_visible() and missing.first.inner_text().startswith("未提及「")
    # Partial hits follow the full ones: the first hit with a "missing" line is hit number total_full + 1.
    first_partial = page.locator("ol.hits li.hit").nth(api["total_full"])
    assert first_partial.locator(".missing").count() == 1
    first_partial.scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(ARTIFACTS, "partial-matches.png"), full_page=True)
    assert not errors, errors
