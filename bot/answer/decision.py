"""The learned answer decision: how likely a retrieved passage answers the question.

A logistic regression over `bot.answer.features.PASSAGE_FEATURES`, fitted by
`bench/fit_answer_model.py` on the training part of the question pool and of CMRC 2018
dev; its weights ship as `answer_model.json` beside this file. The engine answers from
the most likely passage when its probability reaches the model's `threshold`, which the
fitting script chose for the best balance of right and wrong answers; below it, the
question is refused with the most likely passages as related provisions when the best
reaches `related_threshold`, else with the closest documents. Scoring is a dot product:
numpy only, no scikit-learn at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.features import PASSAGE_FEATURES
from index.errors import ZonebotError

MODEL_FILE = Path(__file__).with_name("answer_model.json")


class ModelMismatch(ZonebotError):
    """The model file was fitted on other features than this code computes."""


@dataclass(frozen=True)
class AnswerModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # answer when the best passage's probability reaches this
    related_threshold: float  # below `threshold`, show related provisions from this on

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelMismatch(
                f"无法读取答案模型 {path}（{exc}）。Refit it: python bench/fit_answer_model.py"
            ) from None
        if tuple(data.get("features", ())) != PASSAGE_FEATURES:
            raise ModelMismatch(
                f"答案模型 {path} 的特征与代码不一致。The answer model was fitted on other "
                "features: refit it with python bench/fit_answer_model.py"
            )
        try:
            return cls(
                mean=np.asarray(data["mean"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=float(data["intercept"]),
                threshold=float(data["threshold"]),
                related_threshold=float(data["related_threshold"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelMismatch(
                f"答案模型 {path} 不完整（{exc!r}）。Refit it: python bench/fit_answer_model.py"
            ) from None

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(the passage answers the question) for each row of passage features."""
        if not len(rows):
            return np.zeros(0)
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))
