"""The saved-search store (search/saved_searches.py) on a real SQLite file:
ownership, sharing, alert states, feeds, visits and deliveries."""

import multiprocessing

import pytest

from search.saved_searches import (NewMatch, NotOwner, PercolationState, SavedSearchError, SavedSearchNotFound,
                                   SavedSearchStore)

ANNA, BEN = "token:aaaaaaaaaaaa", "token:bbbbbbbbbbbb"


@pytest.fixture()
def store(tmp_path):
    s = SavedSearchStore(str(tmp_path / "saved.sqlite"))
    yield s
    s.close()


def test_ownership_and_sharing(store):
    mine = store.create(ANNA, " 香港选举 ", {"q": "香港 选举", "category": ["时政", ""], "page": ["3"]})
    assert mine.name == "香港选举"
    assert mine.params == {"q": ["香港 选举"], "category": ["时政"]}  # paging and empty values dropped
    other = store.create(BEN, "地铁", {"q": ["地铁"]}, shared=True)
    private = store.create(BEN, "私人", {"q": ["私人"]})
    assert [s.id for s in store.list_for(ANNA)] == [other.id, mine.id]  # by name: 地铁 < 香港选举
    assert {s.id for s in store.list_for(BEN)} == {other.id, private.id}
    with pytest.raises(SavedSearchNotFound):
        store.visible(private.id, ANNA)
    with pytest.raises(NotOwner):
        store.update(other.id, ANNA, name="mine now")
    with pytest.raises(SavedSearchNotFound):
        store.delete(private.id, ANNA)
    assert store.update(mine.id, ANNA, name="选举", shared=True).shared
    assert "feed_token" in mine.to_dict(ANNA) and "feed_token" not in mine.to_dict(BEN)
    store.delete(other.id, BEN)
    assert store.get(other.id) is None


@pytest.mark.parametrize("name, params", [("", {"q": "x"}), ("x" * 201, {"q": "x"}), ("ok", {}),
                                          ("ok", {"q": 3}), ("ok", "q=x"), ("ok", {"q": ["x" * 5000]})])
def test_bad_input_is_refused(store, name, params):
    with pytest.raises(SavedSearchError):
        store.create(ANNA, name, params)


def test_feed_token_is_checked(store):
    s = store.create(ANNA, "a", {"q": "a"})
    assert store.by_feed_token(s.id, s.feed_token).id == s.id
    wrong = s.feed_token[:-1] + ("y" if s.feed_token.endswith("x") else "x")  # never the token itself
    assert store.by_feed_token(s.id, wrong) is None
    assert store.by_feed_token(s.id, "") is None


def test_alert_states_feed_and_visits(store):
    s = store.create(ANNA, "a", {"q": "a"})
    store.visit(s.id, BEN, now=50.0)
    store.record(s.id, [NewMatch("a1", "g1", "一"), NewMatch("a2", "a2", "二")], [NewMatch("a3", "g1")], [],
                 commit_seq=1, now=100.0)
    rows = PercolationState(store).rows_of_articles(["a1", "a2", "a3", "zz"])[s.id]
    assert {i: (r.state, r.group_key) for i, r in rows.items()} == {
        "a1": ("alert", "g1"), "a2": ("alert", "a2"), "a3": ("copy", "g1")}
    assert [a.article_id for a in store.feed(s.id)] == ["a1", "a2"]  # copies never in the feed
    assert store.count_new(s.id, ANNA) == 2 and store.count_new(s.id, BEN) == 2
    store.visit(s.id, BEN, now=150.0)
    store.record(s.id, [NewMatch("a4", "a4")], [], ["a2"], commit_seq=2, now=200.0)
    assert store.count_new(s.id, BEN) == 1
    assert store.known(s.id, ["a2", "a9"])["a2"].state == "ended"
    assert [a.article_id for a in store.feed(s.id)] == ["a4", "a1"]
    before = store.feed_version(s.id)
    assert store.withdraw(["a1"], now=300.0) == 1
    assert [a.article_id for a in store.feed(s.id)] == ["a4", "a3"]  # a1's copy a3 now stands for its story
    assert store.feed_version(s.id) != before
    assert PercolationState(store).rows_of_articles(["a1"])[s.id]["a1"].withdrawn_at == 300.0


def test_deliveries_only_with_a_webhook(store):
    s = store.create(ANNA, "a", {"q": "a"})
    store.record(s.id, [NewMatch("a1", "a1")], [], [], 1, now=10.0, payload={"n": 1})
    assert store.due(now=20.0) == []
    store.set_webhook(s.id, ANNA, "https://hooks.example.com/x")
    assert len(store.get(s.id).webhook_secret) == 64
    store.record(s.id, [NewMatch("a2", "a2")], [], [], 2, now=30.0, payload={"n": 2})
    store.record(s.id, [], [NewMatch("a5", "a2")], [], 3, now=31.0, payload={"n": 3})  # no alert: nothing sent
    [d] = store.due(now=40.0)
    assert d.payload == {"n": 2} and d.attempts == 0
    store.attempted(d.id, "HTTP 500", next_attempt=100.0, now=41.0)
    assert store.due(now=99.0) == [] and [x.id for x in store.due(now=100.0)] == [d.id]
    store.attempted(d.id, "timed out", next_attempt=None, now=101.0)
    [failed] = store.deliveries([s.id])
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "timed out")


def _record_many(path, prefix):
    s = SavedSearchStore(path)
    sid = s.all()[0].id
    for i in range(50):
        s.record(sid, [NewMatch(f"{prefix}{i}", f"{prefix}{i}")], [], [], i)


def test_processes_write_at_once(store):
    s = store.create(ANNA, "a", {"q": "a"})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(store.path, p)) for p in "xy"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(store.feed(s.id, limit=1000)) == 100


def test_an_alert_ending_changes_the_feed_version(store):
    """Ending an alert changes no count or time of the alerts table: the
    version (the feed's ETag) still changes, and the ended alert leaves the feed."""
    s = store.create(ANNA, "a", {"q": "a"})
    store.record(s.id, [NewMatch("a1", "a1"), NewMatch("a2", "a2")], [], [], commit_seq=1, now=100.0)
    before = store.feed_version(s.id)
    assert store.feed_version(s.id) == before  # stable while nothing changes
    store.record(s.id, [], [], ["a2"], commit_seq=2, now=200.0)
    assert [a.article_id for a in store.feed(s.id)] == ["a1"]
    assert store.feed_version(s.id) != before
    other = store.create(BEN, "b", {"q": "b"})
    untouched = store.feed_version(other.id)
    store.withdraw(["a1"], now=300.0)
    assert store.feed_version(other.id) == untouched  # a withdrawal bumps only the searches it touches


def test_a_file_made_before_the_change_counter_is_migrated(tmp_path):
    import sqlite3

    path = str(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE searches (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
        shared INTEGER NOT NULL DEFAULT 0, params TEXT NOT NULL,
        feed_token TEXT NOT NULL, webhook_url TEXT, webhook_secret TEXT,
        created REAL NOT NULL, updated REAL NOT NULL);
        INSERT INTO searches VALUES ('old', 'token:aaaaaaaaaaaa', 'old', 0, '{"q": ["a"]}', 't', NULL, NULL, 1, 1);""")
    conn.commit()
    conn.close()
    store = SavedSearchStore(path)
    try:
        before = store.feed_version("old")
        store.record("old", [NewMatch("a1", "a1")], [], [], commit_seq=1, now=10.0)
        middle = store.feed_version("old")
        store.record("old", [], [], ["a1"], commit_seq=2, now=20.0)
        assert len({before, middle, store.feed_version("old")}) == 3
        assert store.get("old").name == "old"
    finally:
        store.close()
    SavedSearchStore(path).close()  # opening a migrated file again is fine


@pytest.mark.parametrize("name", ["x\x01y", "a\nb", "tab\there", "del\x7f", "c1\x85x"])
def test_a_name_with_a_control_character_is_refused(store, name):
    with pytest.raises(SavedSearchError, match="control characters"):
        store.create(ANNA, name, {"q": "a"})
    s = store.create(ANNA, "fine", {"q": "a"})
    with pytest.raises(SavedSearchError, match="control characters"):
        store.update(s.id, ANNA, name=name)


def test_the_webhook_url_is_shown_to_the_owner_only(store):
    s = store.create(ANNA, "a", {"q": "a"}, shared=True)
    s = store.set_webhook(s.id, ANNA, "https://hooks.slack.com/services/T0/B0/secret")
    assert s.to_dict(ANNA)["webhook_url"] == "https://hooks.slack.com/services/T0/B0/secret"
    assert "webhook_url" not in s.to_dict(BEN) and "webhook_url" not in s.to_dict(None)
    assert "webhook_secret" not in s.to_dict(ANNA)


def test_a_copy_takes_the_place_of_its_ended_or_withdrawn_alert(store):
    """The story stays followed while a copy of it is in the index: when a
    group's alert ends (an update that no longer matches) or is withdrawn,
    its earliest live copy becomes the alert (no new delivery)."""
    s = store.create(ANNA, "a", {"q": "a"})
    store.set_webhook(s.id, ANNA, "https://hooks.example.com/x")
    store.record(s.id, [NewMatch("a1", "g")], [NewMatch("a2", "g"), NewMatch("a3", "g")], [], 1, now=10.0,
                 payload={"n": 1})
    store.record(s.id, [], [], ["a1"], 2, now=20.0, payload={"n": 2})
    assert [a.article_id for a in store.feed(s.id)] == ["a2"]
    store.withdraw(["a2"], now=30.0)
    assert [a.article_id for a in store.feed(s.id)] == ["a3"]
    store.withdraw(["a3"], now=40.0)
    assert store.feed(s.id) == []
    assert len(store.due(now=50.0)) == 1  # the first alert's delivery only
