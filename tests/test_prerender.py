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


def test_scrapes_in_each_of_the_last_two_ticks_make_an_exporter_busy() -> None:
    p = ScrapePredictor(min_period_s=2.0)
    for t in (98.4, 99.7):
        p.observe(t)
    assert p.busy(100.0, 1.0) and not p.busy(101.0, 1.0)  # 99.7 only: one tick of the two
    single = ScrapePredictor(min_period_s=2.0)  # one scraper every 15 s is never busy
    for t in (100.3, 115.3, 130.3):
        single.observe(t)
    assert not any(single.busy(s, 1.0) for s in range(100, 150))
