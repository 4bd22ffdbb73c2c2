"""The hard checks the answer model weighs (names, value type, person, focus), on
hand-made passages, and the model file's own guards."""

from __future__ import annotations

import json

import numpy as np
import pytest
from answer_support import YINGKOU_TEXT, hits_of, make_chunk
from answer_support import weights_for as weights

from bot.answer.checks import Checks
from bot.answer.decision import MODEL_FILE, AnswerModel, ModelMismatch
from bot.answer.extractive import candidates
from bot.answer.features import FEATURES, PASSAGE_FEATURES, feature_rows, passage_rows
from bot.answer.question import analyse

SHANGHAI = "上海市优化营商环境条例"
SHANGHAI_FTZ = "中国（上海）自由贸易试验区条例"


def flags_of(question: str, *chunks, containing: str = ""):
    """The flags of the best-scored sentence (that contains `containing`)."""
    q = analyse(question)
    ranked = candidates(q, hits_of(*chunks), weights(*chunks))
    best = next(c for c in ranked if containing in c.sentence.text)
    return Checks(q, ranked).flags(best)


def test_a_quantity_question_needs_a_value_of_the_asked_kind():
    assert not flags_of(
        "营口片区去年规模以上工业总产值是多少?", make_chunk(YINGKOU_TEXT)
    ).value_missing
    # plenty of numbers, none of them a number of people
    assert flags_of("营口片区的常住人口有多少?", make_chunk(YINGKOU_TEXT)).value_missing


def test_a_value_for_another_measure_of_the_same_kind_lacks_the_focus():
    chunk = make_chunk(
        "加快盘活存量资源,盘活闲置厂房16处,盘活面积8.1万平方米,通过盘活闲置厂房落地项目7个。"
    )
    assert flags_of("营口片区的规划面积是多少平方公里?", chunk).focus_missing
    assert not flags_of("营口片区的盘活面积是多少平方米?", chunk).focus_missing


def test_a_name_the_passages_never_mention_is_flagged():
    chunk = make_chunk(
        "第三十三条 自贸试验区按照国家规定，实施促进投资和贸易的有关税收政策。", SHANGHAI_FTZ
    )
    assert flags_of("深圳前海有哪些税收政策?", chunk).names_missing
    assert not flags_of("上海自贸试验区有哪些税收政策?", chunk).names_missing


def test_a_role_question_needs_a_person_in_the_sentence():
    chunk = make_chunk("在管委会行政审批大厅正式启动运行“三贷”中心。王志斌任管委会主任。")
    assert not flags_of("营口片区管委会主任是谁?", chunk, containing="王志斌").person_missing
    assert flags_of("营口片区管委会主任是谁?", chunk, containing="三贷").person_missing


def test_feature_rows_have_one_column_per_feature_name():
    q = analyse("营口片区去年规模以上工业总产值是多少?")
    chunks = [make_chunk(YINGKOU_TEXT)]
    ranked = candidates(q, hits_of(*chunks), weights(*chunks))
    top = ranked[:5]
    flags = [Checks(q, ranked).flags(c) for c in top]
    rows = feature_rows(q, top, flags, hits_of(*chunks))
    assert rows.shape == (min(5, len(ranked)), len(FEATURES)) and np.isfinite(rows).all()
    assert feature_rows(q, [], [], []).shape == (0, len(FEATURES))


def test_passage_rows_summarise_their_own_sentences():
    q = analyse("营口片区去年规模以上工业总产值是多少?")
    chunks = [make_chunk(YINGKOU_TEXT), make_chunk("营口片区位于辽宁省。", n=2, doc_id="d2")]
    hits = hits_of(*chunks)
    ranked = candidates(q, hits, weights(*chunks))
    checks = Checks(q, ranked)
    rows = feature_rows(q, ranked, [checks.flags(c) for c in ranked], hits)
    members = [[j for j, c in enumerate(ranked) if c.chunk is h.chunk] for h in hits]
    passages = passage_rows(q, hits, members, rows)
    assert passages.shape == (2, len(PASSAGE_FEATURES)) and np.isfinite(passages).all()
    column = {name: i for i, name in enumerate(PASSAGE_FEATURES)}
    # only the report's passage holds a value of the asked kind (a quantity)
    assert passages[:, column["max_value"]].tolist() == [1.0, 0.0]
    assert passages[:, column["sentences"]].tolist() == [3.0, 1.0]
    empty = passage_rows(q, hits, [[], members[1]], rows)
    assert empty[0, column["sentences"]] == 0 and empty[0, column["passes_checks"]] == 0


def test_the_shipped_model_matches_the_features_and_has_a_sane_threshold():
    model = AnswerModel.load()
    assert len(model.coef) == len(PASSAGE_FEATURES) and 0.0 < model.threshold < 1.0
    assert 0.0 < model.related_threshold <= model.threshold
    probabilities = model.probabilities(np.vstack([model.mean, model.mean]))
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_a_model_fitted_on_other_features_is_refused_with_advice(tmp_path):
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    stale = tmp_path / "answer_model.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelMismatch, match="fit_answer_model"):
        AnswerModel.load(stale)
    with pytest.raises(ModelMismatch, match="fit_answer_model"):
        AnswerModel.load(tmp_path / "missing.json")
