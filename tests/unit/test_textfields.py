"""Text fields are judged on the way in (reprotech_core.textfields): every refusal has a named
rule and a message naming the field; valid values pass through unchanged; nothing is ever
truncated. And what the dashboards and exports do on the way out: Markdown/HTML escaping
(dashboards.text) and spreadsheet cells (reprotech_core.portal.exports), pure functions."""

from __future__ import annotations

import html
import re
import unicodedata

import pandas as pd
import panel as pn
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.text import html_text, md_text
from reprotech_core.portal.exports import spreadsheet_cell, spreadsheet_frame
from reprotech_core.textfields import (
    CODE,
    CUSTOMER_CODE,
    FREE_TEXT,
    LONG_CODE,
    NAME,
    OFFICIAL_ID,
    USERNAME,
    RecordRefused,
    TextKind,
    normalized,
    problems,
    require,
)

KINDS = [OFFICIAL_ID, CODE, LONG_CODE, CUSTOMER_CODE, USERNAME, NAME, FREE_TEXT]
REFUSED = ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn")
CONTROL = st.characters(categories=REFUSED, exclude_characters="\u200c\u200d")
PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S"))


def rules(kind: TextKind, value: str | None, **kw: object) -> list[str]:
    return [p.rule for p in problems(kind, value, column="field", **kw)]


def identifier(kind: TextKind) -> st.SearchStrategy[str]:
    """Valid identifiers of ``kind``: letters/digits with its punctuation inside."""
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789" + ("" if kind.lower else "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    edge = st.sampled_from(alnum)
    inner = st.text(alphabet=alnum + (kind.punctuation or ""), max_size=kind.max_length - 2)
    return st.one_of(edge, st.builds(lambda a, m, z: a + m + z, edge, inner, edge))


@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_any_string_with_a_control_character_is_refused(data, kind):
    before = data.draw(st.text(PRINTABLE, max_size=10))
    after = data.draw(st.text(PRINTABLE, max_size=10))
    char = data.draw(CONTROL)
    found = problems(kind, before + char + after, column="note", record="exit of 'X'")
    assert "text.control_chars" in [p.rule for p in found]
    hit = next(p for p in found if p.rule == "text.control_chars")
    assert hit.column == "note" and hit.message.startswith("exit of 'X': note: character ")
    assert f"U+{ord(char):04X}" in hit.message


@given(data=st.data(), kind=st.sampled_from([OFFICIAL_ID, CODE, LONG_CODE, CUSTOMER_CODE,
                                              USERNAME]))
def test_valid_identifiers_round_trip_unchanged(data, kind):
    value = data.draw(identifier(kind))
    assert problems(kind, value, column="id") == []
    assert normalized(value) == value


@given(st.text(PRINTABLE, min_size=1, max_size=200).filter(lambda t: t == t.strip()))
def test_printable_names_are_accepted_and_stored_in_nfc(value):
    assert rules(NAME, value) == []
    assert normalized(value) == unicodedata.normalize("NFC", value)


@pytest.mark.parametrize(("kind", "value", "rule"), [
    (OFFICIAL_ID, "<img src=x onerror=alert(1)>", "id.characters"),
    (OFFICIAL_ID, "=HYPERLINK(\"http://x\")", "id.characters"),
    (OFFICIAL_ID, "-DE01", "id.characters"),
    (OFFICIAL_ID, "DE01.", "id.characters"),
    (OFFICIAL_ID, "DE 01", "id.characters"),
    (OFFICIAL_ID, "DÉ01", "id.characters"),
    (OFFICIAL_ID, " DE01", "text.whitespace"),
    (OFFICIAL_ID, "DE01\u00a0", "text.whitespace"),
    (OFFICIAL_ID, "X" * 65, "text.too_long"),
    (OFFICIAL_ID, "", "text.empty"),
    (USERNAME, "Vet", "id.characters"),
    (USERNAME, "vet user", "id.characters"),
    (CUSTOMER_CODE, "farm/01", "id.characters"),
    (CODE, "T" * 33, "text.too_long"),
    (NAME, "Daisy\u202e", "text.control_chars"),
    (NAME, "Dai\u200bsy", "text.control_chars"),
    (NAME, "line one\nline two", "text.control_chars"),
    (NAME, "tab\there", "text.control_chars"),
    (NAME, "Daisy ", "text.whitespace"),
    (NAME.longest(64), "x" * 65, "text.too_long"),
])
def test_each_refusal_has_its_named_rule(kind, value, rule):
    found = problems(kind, value, column="field", record="rec")
    assert rule in [p.rule for p in found]
    assert all(p.column == "field" and p.message.startswith("rec: field: ") for p in found)


def test_length_is_counted_in_nfc_characters_not_bytes_or_code_points():
    decomposed = "e\u0301" * 64  # 128 code points, 64 characters once composed
    assert rules(NAME.longest(64), decomposed) == []
    assert rules(NAME.longest(64), "é" * 65) == ["text.too_long"]
    assert normalized(decomposed) == "é" * 64


def test_names_keep_their_letters_and_joiners():
    for name in ("Müller", "Ørsted", "Ñandú", "O'Brien-Smith", "佐藤", "मेहता", "می\u200cخواهم",
                 "Farm & Co. (North)", "<b>bold</b>"):
        assert rules(NAME, name) == [], name


def test_a_missing_value_is_refused_only_when_required():
    assert rules(OFFICIAL_ID, None) == []
    assert rules(OFFICIAL_ID, None, required=True) == ["text.empty"]


def test_require_lists_every_problem_of_every_field():
    with pytest.raises(RecordRefused) as refused:
        require([(USERNAME, "Bad User", "username"), (NAME, "x\x00", "display_name"),
                 (NAME, None, "email")], record="user 'Bad User'",
                required=("username", "display_name", "email"))
    assert [(p.column, p.rule) for p in refused.value.problems] == [
        ("username", "id.characters"), ("display_name", "text.control_chars"),
        ("email", "text.empty")]
    assert refused.value.rule == "id.characters"
    require([(USERNAME, "farm01-user", "username")], required=("username",))


# -- on the way out --------------------------------------------------------------------------
HOSTILE = ["<img src=x onerror=alert(1)>", "**bold** [link](javascript:alert(1))",
           "www.evil.example http://evil.example/x", "| a | b |", "&lt;script&gt;", "# h #",
           "- item", "12) item", "`code`", "![i](x)", "~~gone~~", "$$x$$", "a\\*b"]


def rendered_markdown(source: str) -> str:
    """The HTML Panel's Markdown pane sends to the browser (as the browser decodes it)."""
    pane = pn.pane.Markdown(source)
    return html.unescape(pane._transform_object(pane.object)["object"])


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_values_render_as_their_literal_text(value):
    out = rendered_markdown(f"{md_text(value)}\n\n| k | v |\n|---|---|\n| id | {md_text(value)} |")
    paragraph = re.search(r"<p>(.*?)</p>", out, re.S).group(1)
    cell = re.search(r"<td>id</td>\s*<td>(.*?)</td>", out, re.S).group(1)
    for part in (paragraph, cell):
        assert html.unescape(part) == value
        assert not re.search(r"<(img|a|strong|em|code|script|h\d|li|s|del)\b", part)


@given(st.text(max_size=40))
def test_markdown_escaping_never_lets_markup_through(value):
    out = rendered_markdown(f"x {md_text(value)}")
    assert not re.search(r"<(img|a|strong|em|code|script|del|s)\b", out)


def test_html_values_are_escaped_quotes_included():
    assert html_text('<img src=x onerror="alert(1)">') == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    assert html_text(None) == ""


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+41", "'+41"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("DE01", "DE01"), ("a=b", "a=b"), ("", ""),
    (-1.5, -1.5), (-3, -3), (None, None),
])
def test_spreadsheet_cells_neutralise_formulas_and_keep_numbers(value, cell):
    assert spreadsheet_cell(value) == cell


def test_spreadsheet_frame_touches_text_columns_only():
    frame = pd.DataFrame({"=id": ["=cmd", "ok"], "gebv": [-1.5, 2.0], "n": [-1, 2]})
    out = spreadsheet_frame(frame)
    assert list(out.columns) == ["'=id", "gebv", "n"]
    assert out["'=id"].tolist() == ["'=cmd", "ok"]
    assert out["gebv"].tolist() == [-1.5, 2.0] and out["gebv"].dtype == float
    assert out["n"].tolist() == [-1, 2]
    assert frame["=id"].tolist() == ["=cmd", "ok"]  # the caller's frame is not changed
