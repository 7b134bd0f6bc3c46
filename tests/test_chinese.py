"""Question normalisation: traditional and Cantonese to Mandarin, synonyms, homophone typos."""

from __future__ import annotations

from pathlib import Path

from bot.chinese import segment
from bot.chinese.normalize import BUILTIN_SYNONYMS, CANTONESE, normalize, read_lexicon


def test_traditional_and_fullwidth_become_simplified_halfwidth() -> None:
    assert normalize("協議離婚要準備幾份？ＡＢＣ１２３") == "协议离婚要准备几份?abc123"


def test_cantonese_words_become_mandarin() -> None:
    dialect = read_lexicon([CANTONESE])
    got = normalize("我阿妈住喺边度？使唔使预约㗎？", dialect)
    assert "妈妈" in got and "在哪里" in got and "需不需要" in got and "㗎" not in got


def test_cantonese_copula_before_a_question_word_becomes_mandarin() -> None:
    dialect = read_lexicon([CANTONESE])
    assert normalize("寒冬送温暖系几时开始？", dialect) == "寒冬送温暖是什么时候开始?"
    assert normalize("标准系几多", dialect) == "标准是多少"
    assert normalize("签合同系边几方签", dialect) == "签合同是哪几方签"
    # the 系 of ordinary Mandarin words stays
    assert normalize("联系电话系几多", dialect) == "联系电话是多少"
    assert normalize("应该联系边个", dialect) == "应该联系谁"
    assert normalize("系统几时开", dialect) == "系统什么时候开"


def test_synonyms_map_to_document_terms_without_breaking_longer_terms(tmp_path: Path) -> None:
    extra = tmp_path / "_synonyms.txt"
    extra.write_text("# 局里补充\n长者饭堂 老人饭堂 饭堂\n", encoding="utf-8")
    lexicon = read_lexicon([BUILTIN_SYNONYMS, extra])
    assert lexicon.apply("老人饭堂几点开门") == "长者饭堂几点开门"
    assert lexicon.apply("长者饭堂几点开门") == "长者饭堂几点开门"
    assert lexicon.apply("我想吃低保") == "我想低保"


def test_a_group_is_aimed_at_the_word_the_folder_uses(tmp_path: Path) -> None:
    words = tmp_path / "_synonyms.txt"
    words.write_text("支出型困难家庭 刚性支出困难家庭 因病致贫\n_ 请问\n", encoding="utf-8")
    lexicon = read_lexicon([words])
    published = "刚性支出困难家庭应当同时具备下列条件"  # a folder of published rules says it this way
    aimed = lexicon.toward(published.__contains__)
    assert aimed.apply("支出型困难家庭是什么") == "刚性支出困难家庭是什么"
    assert aimed.apply("因病致贫能申请吗") == "刚性支出困难家庭能申请吗"
    assert aimed.apply("请问低保") == "低保"  # a group that deletes stays one
    guides = "支出型困难家庭（刚性支出困难家庭）可以申请"  # a folder with both keeps the first
    assert lexicon.toward(guides.__contains__).apply("刚性支出困难家庭") == "支出型困难家庭"
    assert lexicon.toward(lambda _: False).apply("因病致贫") == "支出型困难家庭"


def test_where_else_in_china_a_resident_lives_is_a_place_but_hong_kong_is_not() -> None:
    from bot.chinese.places import is_place

    assert is_place("四川") and is_place("新疆") and is_place("陆丰")
    assert not is_place("香港") and not is_place("离婚")


def test_tokens_include_bigrams_and_numbers() -> None:
    toks = segment.tokens("城镇低保标准1030元")
    assert "低保" in toks and "1030" in toks and "标准" in toks
