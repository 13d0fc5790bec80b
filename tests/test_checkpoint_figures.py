"""The measures-across-checkpoints figure: no empty panel where the sweep has no predictions, and the
sample / token words of the run (images and patches, clips and tubelets) in its legends."""

from __future__ import annotations

from hjepa_report.analysis.representations.checkpoint_figures import VIDEO_UNITS, curves_figure, dense_figure


def _rows(prediction: float | None):
    return [
        {
            "name": f"e{i}",
            "epoch": i,
            "rankme": 3.0 + i,
            "rankme_tokens": 9.0,
            "alpha_req": 1.5,
            "knn_accuracy": 0.5,
            "prediction_cosine": prediction,
            "baseline_cosine": None if prediction is None else 0.2,
            "isotropy": 2.0,
            "isotropy_gaussian": 0.5,
            "gram_drift": 0.1 * i,
        }
        for i in (1, 2)
    ]


def _legend_texts(fig) -> set[str]:
    return {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}


def test_a_sweep_without_predictions_gets_three_panels_named_for_clips():
    fig = curves_figure(_rows(None), "e2", {"rankme_isotropic": 10.0}, VIDEO_UNITS)
    assert [ax.get_title() for ax in fig.axes] == [
        "RankMe (Garrido et al. 2023)",
        "alpha-ReQ (Agrawal et al. 2022)",
        "kNN accuracy (leave-one-out)",
    ]
    texts = _legend_texts(fig)
    assert {"clip embeddings (mean-pooled)", "tubelet tokens", "isotropic, clip shape"} <= texts
    assert not any("patch" in t or "image" in t for t in texts)
    assert "tubelet tokens" in _legend_texts(dense_figure(_rows(None), VIDEO_UNITS))


def test_a_sweep_with_predictions_keeps_the_prediction_panel_and_image_words():
    fig = curves_figure(_rows(0.0), "e2", {})  # a cosine of exactly 0 is a measurement, not a missing value
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == "Level-0 prediction cosine"
    assert {"image embeddings (mean-pooled)", "patch tokens", "predictor"} <= _legend_texts(fig)
