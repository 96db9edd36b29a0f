"""``fitbot report --html FILE``: one self-contained page, rendered in headless Chromium with its
charts; every string from people escaped."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.cli import main
from bot.html_report import Day, by_day
from bot.state.store import (
    SECONDS_PER_DAY,
    VIA_BUTTON,
    VIA_QUESTION,
    AnswerCount,
    Rating,
    SqliteStore,
    UnansweredQuestion,
    read_ratings,
)
from tests.browser import as_json, browser_page, chromium_or_skip

DAY = float(SECONDS_PER_DAY)
TODAY = time.time() // DAY * DAY
HOSTILE_QUESTION = '<img src=x onerror="alert(1)"> moonwalk & "dance"?'
HOSTILE_COMMENT = "</td><script>alert(2)</script>"
# Per day (oldest first): questions answered, declined, 👍, 👎; day 2 has nothing.
DAYS = [(5, 1, 2, 0), (8, 3, 1, 2), (0, 0, 0, 0), (4, 0, 0, 1)]


@pytest.fixture
async def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    start = TODAY - (len(DAYS) - 1) * DAY
    message = 0
    for n, (answered, declined, up, down) in enumerate(DAYS):
        at = start + n * DAY + 3600
        for i in range(answered):
            record = ("reverse-squat", "negative-squat")[i % 2]
            await store.count_answer(at, record, "steps", True, VIA_QUESTION)
        for _ in range(declined):
            await store.count_answer(at, None, None, False, VIA_QUESTION)
        await store.count_answer(at, "reverse-squat", "mistakes", True, VIA_BUTTON)  # no question
        for helpful, times in ((True, up), (False, down)):
            for _ in range(times):
                message += 1
                record = "reverse-squat" if message % 4 else "negative-squat"
                comment = HOSTILE_COMMENT if not helpful else None
                await store.rate(
                    Rating("c", message, at, helpful, record, "steps", 0.8, "how?", comment)
                )
    for text in (HOSTILE_QUESTION, "what about pilates", "how many calories does a squat burn"):
        await store.record_unanswered(UnansweredQuestion(text, TODAY, False, 0.0))
    await store.close()
    return path


def write(state: Path, tmp_path: Path, *flags: str) -> Path:
    page = tmp_path / "report.html"
    assert main(["report", "--html", str(page), "--state", str(state), *flags]) == 0
    return page


# -- the page as HTML --------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") or (name == "style" and "url(" in (value or "")):
                self.links.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_is_self_contained_and_escapes_what_people_typed(
    state: Path, tmp_path: Path
) -> None:
    source = write(state, tmp_path).read_text()

    parsed = _Tags()
    parsed.feed(source)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert parsed.links == []  # nothing to fetch: no src, no href, no url()
    assert "@import" not in source and "http://" not in source.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    text = "".join(parsed.text)
    assert HOSTILE_QUESTION in text
    assert HOSTILE_COMMENT in text
    assert {"svg", "style", "table"} <= set(parsed.tags)


def test_days_without_data_are_kept_as_empty_days() -> None:
    counts = [
        AnswerCount(0.0, "a", "steps", True, VIA_QUESTION, 3),
        AnswerCount(2 * DAY, "", "", False, VIA_QUESTION, 1),
        AnswerCount(2 * DAY, "a", "steps", True, VIA_BUTTON, 9),  # a button is no question
    ]
    ratings = [Rating("c", 1, DAY + 5, False, "a", "steps", 0.5)]

    assert by_day(counts, ratings, None) == [
        Day(0.0, answered=3),
        Day(DAY, down=1),
        Day(2 * DAY, declined=1),
    ]
    assert [d.start for d in by_day(counts, ratings, since=DAY + 7)] == [DAY, 2 * DAY]


async def test_an_empty_state_file_still_makes_a_page(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    await SqliteStore(path).close()

    source = write(path, tmp_path).read_text()

    assert "No questions yet." in source and "No ratings yet." in source


def test_a_report_needs_a_name_or_html(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 2
    assert "--html FILE" in capsys.readouterr().err


def test_an_unwritable_file_exits_2(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    assert main(["report", "--html", str(target), "--state", str(state)]) == 2


# -- the page in a real browser ----------------------------------------------------------------

MEASURE = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
    const box = s.getBoundingClientRect();
    return {id: s.id, width: box.width, height: box.height};
  }),
  bars: [...document.querySelectorAll('#questions-per-day-chart rect.bar')]
    .map(r => r.getBoundingClientRect().height),
  series: [...document.querySelectorAll('#over-time-chart g.series')].map(g => ({
    name: g.classList[1],
    length: g.querySelector('polyline').getTotalLength(),
    points: g.querySelectorAll('circle').length,
  })),
  rates: [...document.querySelectorAll('#helpful-chart rect.rate')].map(r => ({
    rate: r.getBoundingClientRect().width
      / r.previousElementSibling.getBoundingClientRect().width,
    colour: getComputedStyle(r).fill,
  })),
  missed: document.querySelectorAll('#missed tr.missed').length,
  scripts: document.scripts.length,
  text: document.body.innerText,
})"""


async def test_the_page_renders_its_charts_in_headless_chromium(
    state: Path, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    page_file = write(state, tmp_path)

    async with browser_page(executable) as page:
        await page.open(page_file)
        seen = as_json(await page.evaluate(MEASURE))

    assert page.requests == [page_file.resolve().as_uri()]  # nothing else was fetched
    assert [c["id"] for c in seen["charts"]] == [
        "questions-per-day-chart",
        "over-time-chart",
        "helpful-chart",
    ]
    sizes = {c["id"]: (c["width"], c["height"]) for c in seen["charts"]}
    assert all(width > 300 for width, _ in sizes.values())
    assert sizes["questions-per-day-chart"][1] > 150 and sizes["over-time-chart"][1] > 150
    assert sizes["helpful-chart"][1] > 40  # two rows
    # One bar per non-zero answered/declined value, each drawn with a height.
    expected_bars = sum(1 for a, d, _, _ in DAYS for value in (a, d) if value)
    assert len(seen["bars"]) == expected_bars and min(seen["bars"]) > 0
    assert [s["name"] for s in seen["series"]] == ["answered", "declined", "up", "down"]
    assert all(s["points"] == len(DAYS) and s["length"] > 100 for s in seen["series"])
    # Each exercise's bar is as long as its share of 👍 (the track is 100 %).
    ratings = read_ratings(state)
    expected = {
        record: sum(r.helpful for r in ratings if r.record == record)
        / sum(1 for r in ratings if r.record == record)
        for record in {r.record for r in ratings}
    }
    assert sorted(round(r["rate"], 3) for r in seen["rates"]) == sorted(
        round(rate, 3) for rate in expected.values()
    )
    assert all(r["colour"] != "none" for r in seen["rates"])
    assert seen["missed"] == 3
    assert seen["scripts"] == 0
    assert HOSTILE_QUESTION in seen["text"] and HOSTILE_COMMENT in seen["text"]


def test_without_chromium_the_browser_test_skips_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tests.browser.shutil.which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_or_skip()

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        chromium_or_skip()
