"""Settings that cannot be used are refused, named, before anything runs:
by the settings object, by ``python -m web.preflight`` (what scripts/serve
runs first), by gunicorn's configuration (before any worker boots) and by
the command lines (one ``error:`` line, never a traceback)."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from search.settings import SettingError, Settings

BAD = [
    # (variable, value, what the message says)
    ("SEARCH_QUERY_LOG_DAYS", "-1", "out of range: it must be at least 1"),  # would delete the whole log
    ("SEARCH_QUERY_LOG_DAYS", "0", "out of range: it must be at least 1"),
    ("SEARCH_STORE_BUSY_TIMEOUT", "inf", "is not a finite number"),
    ("SEARCH_WRITE_WAIT", "nan", "is not a finite number"),
    ("SEARCH_QUERY_TIMEOUT", "-1", "out of range: it must be at least 0.01"),
    ("SEARCH_MAX_PAGE_SIZE", "-5", "out of range: it must be at least 1"),
    ("SEARCH_MAX_QUERY_LENGTH", "-1", "out of range: it must be from 1 to 500"),
    ("SEARCH_MAX_QUERY_LENGTH", "100000", "out of range: it must be from 1 to 500"),
    ("SEARCH_MAX_RESULT_WINDOW", "0", "out of range: it must be at least 1"),
    ("SEARCH_POSTINGS_CACHE_MB", "-1", "out of range: it must be at least 0"),
    ("SEARCH_HOT_MIN_CLIENTS", "-1", "out of range: it must be at least 1"),
    ("SEARCH_REFRESH_INTERVAL", "nan", "is not a finite number"),
    ("PORT", "70000", "out of range: it must be from 1 to 65535"),
    ("WEB_CONCURRENCY", "0", "out of range: it must be at least 1"),
    ("SEARCH_MAX_PAGE_SIZE", "abc", "is not an integer"),
    ("SEARCH_BACKEND", "foo", "is not one of whoosh, opensearch"),
]


@pytest.mark.parametrize("name, value, says", BAD)
def test_a_bad_value_is_refused_naming_the_variable(name, value, says):
    with pytest.raises(SettingError) as err:
        Settings.from_env({name: value})
    assert str(err.value).startswith(f"{name}={value!r} ") and says in str(err.value)


def test_bounds_admit_the_defaults_and_the_values_the_tests_use():
    s = Settings.from_env({"SEARCH_QUERY_LOG_DAYS": "1", "SEARCH_REFRESH_INTERVAL": "0", "PORT": "65535",
                           "SEARCH_MAX_QUERY_LENGTH": "500", "SEARCH_CLIENT_TIMEOUT": "1.5"})
    assert (s.query_log_days, s.refresh_interval, s.port, s.max_query_length) == (1.0, 0.0, 65535, 500)
    assert Settings.from_env({}) == Settings()


def test_the_query_log_refuses_a_retention_that_would_delete_it(tmp_path):
    from search.querylog import QueryLog

    for days in (-1, 0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number of days"):
            QueryLog(str(tmp_path / "q.sqlite"), retention_days=days)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCH_")}
    return dict(env, PYTHONPATH=ROOT, **extra)


@pytest.mark.parametrize("name, value, says", [
    ("SEARCH_QUERY_LOG_DAYS", "-1", "SEARCH_QUERY_LOG_DAYS='-1' is out of range"),
    ("SEARCH_RATE_LIMIT", "lots", "SEARCH_RATE_LIMIT 'lots' is not a rate limit"),
    ("SEARCH_SECRET_KEY", "short", "SEARCH_SECRET_KEY is too short: at least 32 characters"),
])
def test_preflight_and_gunicorn_refuse_a_bad_setting_in_one_line(name, value, says, tmp_path):
    pre = subprocess.run([sys.executable, "-m", "web.preflight"], env=_env(**{name: value}), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert pre.returncode == 2 and pre.stderr == f"error: {says}" + pre.stderr.split(says, 1)[1]
    assert pre.stderr.count("\n") == 1 and "Traceback" not in pre.stderr and not pre.stdout
    gun = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0",
                          "web:create_app()"], env=_env(**{name: value}, SEARCH_INDEX=str(tmp_path / "none")),
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert gun.returncode == 2 and says in gun.stderr and "Traceback" not in gun.stderr, gun.stderr[-2000:]
    ok = subprocess.run([sys.executable, "-m", "web.preflight"], env=_env(), cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and not ok.stderr


def _search_cli(*args, **extra):
    return subprocess.run([sys.executable, "-m", "search", *args], env=_env(**extra), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_the_search_command_line_says_what_is_wrong_in_one_line(sample_index, tmp_path):
    cases = [
        (("query", "--index", sample_index, "香港"), {"SEARCH_BACKEND": "foo"},
         "error: SEARCH_BACKEND='foo' is not one of whoosh, opensearch\n"),
        (("query", "--index", str(tmp_path / "none"), "香港"), {}, f"error: no index at {tmp_path / 'none'}\n"),
        (("query", "--index", sample_index, "香港"), {"SEARCH_USERDICT": str(tmp_path / "none.txt")},
         f"error: [Errno 2] No such file or directory: '{tmp_path / 'none.txt'}'\n"),
    ]
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"qid": "1", "query": "香港"}\n{"qid": 2}\n', encoding="utf-8")
    cases.append((("run", "--index", sample_index, "--queries", str(queries)), {},
                  f'error: {queries}:2: not a JSON object with "qid" and "query" (KeyError(\'query\'))\n'))
    for args, extra, says in cases:
        done = _search_cli(*args, **extra)
        assert done.returncode == 2 and done.stderr.endswith(says) and "Traceback" not in done.stderr, done.stderr
    for size in ("0", "-3"):
        done = _search_cli("query", "--index", sample_index, "--size", size, "香港")
        assert done.returncode == 2 and f"--size: {size} must be at least 1" in done.stderr


def test_the_indexer_command_line_says_what_is_wrong_in_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    records = tmp_path / "a.jsonl"
    records.write_text('{"id": "a1", "title": "标题", "body": "正文"}\n', encoding="utf-8")
    cases = [
        (("build", "--index", str(afile), "--store", "off", str(records)), {},
         f"error: [Errno 17] File exists: '{afile}'\n"),
        (("build", "--index", str(tmp_path / "ix"), str(records)), {"SEARCH_WRITE_WAIT": "nan"},
         "error: SEARCH_WRITE_WAIT='nan' is not a finite number\n"),
    ]
    for args, extra, says in cases:
        done = subprocess.run([sys.executable, "-m", "indexer", *args], env=_env(**extra), cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and done.stderr == says, done.stderr
