"""Exact JSON text and page normalising: the fast paths give what the item-by-item definitions give."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.extract.fields import RECON_LINE_FIELDS, _normalise_rows, normalise
from recon.jsontext import dumps_exact, encode_exact, loads_exact, loads_page
from recon.store.schema import RECON_LINE

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)  # NULs and quotes included
scalars = st.one_of(st.none(), st.booleans(), st.integers(), texts, st.decimals(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4))


def _writer(value: Any) -> str:
    """The definition: compact JSON, text as json writes it, a Decimal as its own digits (`str`)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_writer(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_writer(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(values)
def test_dumps_exact_equals_the_recursive_writer(value: Any) -> None:
    assert dumps_exact(value) == _writer(value)
    assert encode_exact(value) == _writer(value).encode()


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False), max_size=5))
def test_decimals_keep_their_digits_and_exponent(numbers: list[Decimal]) -> None:
    back = loads_exact(encode_exact(numbers))
    for read, written in zip(back, numbers, strict=True):  # whole numbers come back as ints of the same value
        assert read == written if isinstance(read, int) else read.as_tuple() == written.as_tuple()


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False), max_size=5))
def test_decimals_round_trip_exactly(numbers: list[Decimal]) -> None:
    back = loads_exact(dumps_exact({"n": numbers}))["n"]
    assert [Decimal(str(x)) for x in back] == numbers


@settings(max_examples=300, deadline=None)
@given(values, st.booleans(), st.booleans())
def test_loads_exact_parses_what_the_stdlib_parses_with_decimal_floats(value: Any, as_bytes: bool, bom: bool) -> None:
    text = dumps_exact(value)
    data: str | bytes = (b"\xef\xbb\xbf" if bom else b"") + text.encode() if as_bytes else text
    assert loads_exact(data) == json.loads(text, parse_float=Decimal)


@pytest.mark.parametrize("bad", ["", "{", '{"a": NaN}', "[1] 2", "\ufeff{}", '{"a": Infinity}'])
def test_loads_exact_refuses_what_is_not_json_with_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        loads_exact(bad)


pages = st.fixed_dictionaries(
    {"items": st.one_of(st.lists(values, max_size=4), values)},
    optional={"links": values, "continuationToken": values, "totalCount": st.integers()},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(pages, values), st.booleans())
def test_loads_page_reads_the_links_and_leaves_the_items_raw(value: Any, bom: bool) -> None:
    text = dumps_exact(value).encode()
    full = loads_exact(text)
    page = loads_page((b"\xef\xbb\xbf" if bom else b"") + text)
    if isinstance(full, dict) and isinstance(full.get("items"), list):
        assert [loads_exact(bytes(raw)) for raw in page["items"]] == full["items"]
        assert page["links"] == full.get("links")
        assert page["continuationToken"] == full.get("continuationToken")
    else:  # not a page: read in full, so the pager's own error says what is wrong
        assert page == full


@pytest.mark.parametrize("bad", ["", "{", '{"items": [1,}', '{"items": [NaN]}', "[1] 2"])
def test_loads_page_refuses_what_is_not_json_with_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        loads_page(bad.encode())


# Keys of one column in both styles, an unknown key, an ignored one; items may lack keys.
KEYS = ["chargeType", "ChargeType", "subtotal", "Subtotal", "quantity", "brandNewField", "attributes", "Total"]
items = st.lists(
    st.dictionaries(st.sampled_from(KEYS), st.one_of(texts, st.integers(), st.none(), scalars), max_size=6),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(items)
def test_normalise_equals_the_item_by_item_path(page: list[dict[str, Any]]) -> None:
    fast, drift = normalise(page, RECON_LINE_FIELDS, RECON_LINE, page_no=3, first_line=11)
    slow, slow_drift = _normalise_rows(page, RECON_LINE_FIELDS, [n for n, _ in RECON_LINE], 3, 11)
    assert fast.equals(slow)
    assert drift == slow_drift
