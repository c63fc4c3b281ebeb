"""--eval-unit minutes: an evaluation each time training time passes a multiple of --eval-every
minutes, and one more when a --minutes budget ends on a mark; each record carries its time."""

from types import SimpleNamespace

from cxrgan.training.callbacks import Quality


class _Tracker:
    def __init__(self):
        self.records = []


def _trainer(spent_s):
    counters = SimpleNamespace(step=1, elapsed_s=0.0)
    return SimpleNamespace(spent_s=spent_s, state=SimpleNamespace(counters=counters))


def _quality(monkeypatch):
    q = Quality(_Tracker(), every=5, unit="minutes")
    done = []

    def evaluate(t):
        done.append(t.spent_s)
        q.tracker.records.append({"elapsed_s": t.spent_s})

    monkeypatch.setattr(q, "_evaluate", evaluate)
    return q, done


def test_one_evaluation_per_mark_passed(monkeypatch):
    q, done = _quality(monkeypatch)
    for spent in (10.0, 299.0, 300.2, 301.0, 599.9, 600.5, 601.0, 905.0):
        q.on_step_end(_trainer(spent))
    assert done == [300.2, 600.5, 905.0]


def test_a_budget_ending_on_a_mark_is_evaluated_once(monkeypatch):
    q, done = _quality(monkeypatch)
    q.on_step_end(_trainer(300.5))
    q.on_stop(_trainer(600.0), "budget: 10 minutes of training time reached")
    q.on_stop(_trainer(600.0), "budget: 10 minutes of training time reached")
    q.on_stop(_trainer(610.0), "interrupted")
    assert done == [300.5, 600.0]


def test_a_resumed_run_counts_marks_from_its_last_evaluation(monkeypatch):
    q, done = _quality(monkeypatch)
    q.tracker.records = [{"elapsed_s": 600.4}]
    q.on_step_end(_trainer(650.0))
    q.on_step_end(_trainer(900.1))
    assert done == [900.1]


def test_other_units_ignore_training_time(monkeypatch):
    q, done = _quality(monkeypatch)
    q.unit = "epoch"
    q.on_step_end(_trainer(1e6))
    q.on_stop(_trainer(1e6), "budget: 1 minutes of training time reached")
    assert done == []
