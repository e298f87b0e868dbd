from otelmock.prerender import ScrapePredictor


def test_a_regular_scraper_is_predicted_one_period_ahead() -> None:
    p = ScrapePredictor(min_period_s=2.0)
    for t in (100.3, 115.3, 130.3):
        p.observe(t)
    assert p.due(145.0, 146.0) and not p.due(146.0, 160.0)


def test_two_scrapers_at_different_offsets_are_both_predicted() -> None:
    p = ScrapePredictor(min_period_s=2.0)
    for t in sorted([100.2, 115.2, 130.2, 107.9, 122.9, 137.9]):
        p.observe(t)
    assert p.due(145.0, 146.0) and p.due(152.0, 153.0)


def test_irregular_or_back_to_back_scrapes_predict_nothing() -> None:
    p = ScrapePredictor(min_period_s=2.0)
    for t in (100.0, 100.1, 100.2, 103.0, 111.0, 112.5):
        p.observe(t)
    assert not any(p.due(s, s + 1) for s in range(113, 200))
