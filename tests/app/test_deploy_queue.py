"""AppTest of Deploy's labelling queue: a drawing saved to "label later" is stored without a
label, counts nowhere, and is labelled with one click in the Collected data tab."""

from __future__ import annotations

from tests.app.test_deploy import COLLECTED, digit, draw, page, run, store, texts  # noqa: F401 (fixtures)
from ui import state as keys


def test_a_drawing_saved_to_label_later_is_labelled_from_the_queue(run, digit):  # noqa: F811
    png, label = digit
    at = draw(page(), png)
    at.button(key=keys.DEPLOY_LATER).click().run()
    assert not at.exception, at.exception
    [saved] = store().list()
    assert saved.true_label is None and saved.predicted == label and saved.model == run.id
    assert store().field_accuracy() == [] and len(store().arrays()[1]) == 0
    assert "Saved to label later" in texts(at)

    at.session_state[keys.DEPLOY_TAB] = COLLECTED
    at.run()
    assert not at.exception, at.exception
    assert "Label these: 1 drawing(s) waiting" in [s.value for s in at.subheader]
    assert f"The model guesses {label}" in texts(at)
    at.button(key=keys.deploy_queue(saved.id, label)).click().run()
    assert not at.exception, at.exception
    assert store().get(saved.id).true_label == label
    assert not any(s.value.startswith("Label these") for s in at.subheader)
    [field] = store().field_accuracy()
    assert field["n"] == 1 and field["accuracy"] == 1.0
    assert at.metric[0].value == "1"
