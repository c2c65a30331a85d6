"""The bench command runs in the suite, so that it cannot rot.

It runs here at a tiny size (seed_demo, then a 40-patient large clinic added to the
same test database), with a real Celery worker, redis-server and SMTP sink for the
alert pipeline. The budgets are checked by running the command, not here."""

import io
import json
import time

import pytest
from django.core.management import CommandError, call_command

ISSUE_PAGES = [
    "staff dashboard",
    "patient list",
    "patient page",
    "week calendar",
    "session roster",
    "compliance page",
    "doctor's queue",
    "doctor's dashboard",
    "sponsor page",
    "attendance letter PDF (6 months)",
    "CSV export (1 month)",
]
ROLES = {
    "doctor's queue": "doctor",
    "doctor's dashboard": "doctor",
    "sponsor page": "sponsor",
}


def run_bench(*args):
    out = io.StringIO()
    call_command("bench", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_bench_json_measures_every_page_of_the_issue_at_both_sizes():
    data = json.loads(
        run_bench(
            "--here",
            "--json",
            "--repeat=3",
            "--warmup=1",
            "--alerts=12",
            "--worker-concurrency=2",
            "--large-patients=40",
            "--large-weeks=2",
        )
    )

    assert set(data) == {
        "floor_ms",
        "floor_sql_ms",
        "pages",
        "alerts",
        "letter_year_ms",
    }
    assert data["floor_ms"] > 0
    # The floor's session, user and role queries.
    assert data["floor_sql_ms"] > 0
    assert [page["name"] for page in data["pages"]] == ISSUE_PAGES
    for page in data["pages"]:
        assert page["role"] == ROLES.get(page["name"], "staff")
        for size in ("small", "large"):
            row = page[size]
            kept = page["name"].startswith(("attendance letter PDF", "CSV export"))
            expected = {"queries", "median_ms", "p95_ms", "sql_median_ms"}
            # The kept letter and CSV days are also timed made afresh.
            assert set(row) == expected | ({"cold_median_ms"} if kept else set())
            if kept:
                assert row["cold_median_ms"] > 0
            assert row["queries"] > 0, (page["name"], size)
            assert 0 < row["median_ms"] <= row["p95_ms"], (page["name"], size)
            # Every page reads the database (its session, user and role at least).
            assert row["sql_median_ms"] > 0, (page["name"], size)
        ratio = page["large"]["median_ms"] / data["floor_ms"]
        assert page["ratio_to_floor"] == pytest.approx(ratio, rel=0.01, abs=0.01)
    alerts = data["alerts"]
    assert alerts["count"] == 12
    assert alerts["seconds"] > 0
    assert alerts["per_second"] == pytest.approx(12 / alerts["seconds"], rel=0.05)
    assert data["letter_year_ms"] > 0


@pytest.mark.django_db
def test_seed_large_refuses_the_applications_own_database():
    with pytest.raises(CommandError, match="refusing"):
        call_command(
            "seed_large",
            "--database-url=postgres://postgres@127.0.0.1:5432/iop",
            stdout=io.StringIO(),
        )


@pytest.mark.django_db
def test_bench_fails_loudly_when_a_page_has_no_url(monkeypatch):
    from core.bench import pages
    from core.management.commands import bench  # imported before patching

    def broken(subjects):
        return [pages.Page("patient list", "staff", "patients:no_such_page")]

    monkeypatch.setattr(bench, "key_pages", broken)
    monkeypatch.setattr(pages, "key_pages", broken)
    with pytest.raises(CommandError, match="no URL named 'patients:no_such_page'"):
        run_bench("--here", "--small-only", "--repeat=1", "--alerts=1")


def test_markdown_table_has_a_row_per_page_and_the_pipeline_line():
    from core.bench.report import markdown

    result = {
        "floor_ms": 3.1,
        "floor_sql_ms": 0.4,
        "pages": [
            {
                "name": "patient list",
                "role": "staff",
                "small": {"queries": 7, "median_ms": 4.2, "p95_ms": 5.0},
                "large": {
                    "queries": 7,
                    "median_ms": 6.3,
                    "p95_ms": 7.9,
                    "sql_median_ms": 1.2,
                },
                "ratio_to_floor": 2.03,
            }
        ],
        "alerts": {"count": 1000, "seconds": 8.2, "per_second": 122.0},
        "letter_year_ms": 410,
    }
    table = markdown(result).splitlines()
    assert table[2] == (
        "| patient list | staff | 7 / 7 | 4.2 (5.0) | 6.3 (7.9) | 1.2 | 2.03 |"
    )
    assert "Floor (base layout, logged in): 3.1 ms, 0.4 ms of it in SQL." in table[-1]
    assert "1000 missed sessions in 8.2 s (122.0 per second)" in table[-1]
    assert "410 ms" in table[-1]


@pytest.mark.django_db
def test_sql_times_counts_the_time_spent_in_statements_only():
    from django.db import connection

    from core.bench.pages import sql_times

    def request():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.05)")
        time.sleep(0.05)  # the rest of a request: not SQL

    (ms,) = sql_times(request, 1)
    assert 50 <= ms < 100


@pytest.mark.django_db
def test_bench_page_option_measures_only_the_named_pages_and_skips_alerts():
    data = json.loads(
        run_bench(
            "--here",
            "--json",
            "--small-only",
            "--repeat=1",
            "--warmup=0",
            "--alerts=0",
            "--page=week calendar",
            "--page=patient list",
        )
    )

    assert [page["name"] for page in data["pages"]] == ["patient list", "week calendar"]
    assert data["alerts"] is None
    assert all(page["small"]["queries"] > 0 for page in data["pages"])


@pytest.mark.django_db
def test_bench_refuses_an_unknown_page_name_and_lists_the_pages():
    with pytest.raises(CommandError, match="no page named 'calendar'.*'week calendar'"):
        run_bench("--here", "--small-only", "--page=calendar", "--alerts=0")
