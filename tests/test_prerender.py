from itertools import pairwise

from otelmock.prerender import ScrapePredictor


def test_a_regular_scraper_is_predicted_one_period_ahead() -> None:
    p = ScrapePredictor(slot_s=1.0)
    for t in (100.3, 115.3, 130.3):
        p.observe(t)
    assert p.due(145.0, 146.0) and not p.due(146.0, 160.0) and not p.due(131.0, 145.0)


def test_two_scrapers_at_different_offsets_are_both_predicted() -> None:
    p = ScrapePredictor(slot_s=1.0)
    for t in sorted([100.2, 115.2, 130.2, 107.9, 122.9, 137.9]):
        p.observe(t)
    assert p.due(145.0, 146.0) and p.due(152.0, 153.0)


def test_irregular_or_back_to_back_scrapes_predict_nothing() -> None:
    p = ScrapePredictor(slot_s=1.0)
    for t in (100.0, 100.1, 100.2, 103.0, 111.0, 112.5):
        p.observe(t)
    assert not any(p.due(s, s + 1) for s in range(114, 200))


def test_many_scrapers_in_bursts_are_predicted_whatever_their_number() -> None:
    """50 scrapers of one target within 0.6 s every 15 s (the soak): every tick of a burst is predicted."""
    p = ScrapePredictor(slot_s=1.0)
    for k in range(3):
        for i in range(50):
            p.observe(100.7 + 15 * k + 0.012 * i)
    assert p.due(145.0, 146.0) and p.due(146.0, 147.0)
    assert not any(p.due(s, s + 1) for s in (*range(131, 145), *range(147, 160)))


def test_scrapes_in_each_of_the_last_three_ticks_predict_the_tick_after_this_one() -> None:
    """Asked at the start of tick 100 (not scraped yet), about tick 101."""
    p = ScrapePredictor(slot_s=1.0)
    for t in (97.1, 98.4, 99.7):
        p.observe(t)
    assert p.due(101.0, 102.0) and not p.due(102.0, 103.0)


def test_memory_is_bounded_by_the_longest_period() -> None:
    p = ScrapePredictor(slot_s=1.0)
    for t in range(100_000):
        p.observe(float(t))
    assert len(p._seen) <= 4 * p.max_period


def test_fleet_world_threads_work_at_spread_phases_of_the_tick() -> None:
    from otelmock.runtime import world_phase

    phases = sorted(world_phase(i) for i in range(10))
    assert world_phase(0) == 0.0 and all(0.0 <= p < 0.8 for p in phases)
    assert min(b - a for a, b in pairwise(phases)) > 0.03  # no two of ten hosts at the same moment
