"""The variant grammar: parts joined by "-", each a bare name or a key=value field."""

import pytest

from accelbench.core.spec import (
    Variant,
    VariantError,
    batch_variant,
    variant_batch,
    without_batch,
)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", ()),
        ("matmul", ((None, "matmul"),)),
        ("batch=16", (("batch", "16"),)),
        ("sdpa-L=1024", ((None, "sdpa"), ("L", "1024"))),
        ("sdpa-L=1024-batch=16", ((None, "sdpa"), ("L", "1024"), ("batch", "16"))),
    ],
)
def test_variants_parse_into_names_and_fields_and_print_back_unchanged(text, parts):
    variant = Variant.parse(text)
    assert variant.parts == parts
    assert str(variant) == text


@pytest.mark.parametrize(
    "text", ["-", "sdpa-", "-sdpa", "a--b", "L=", "=16", "1L=2", "has space", "L=1-L=2", "x=a=b"]
)
def test_malformed_variants_are_refused_with_one_line(text):
    with pytest.raises(VariantError) as error:
        Variant.parse(text)
    assert "\n" not in str(error.value)
    assert repr(text) in str(error.value)


def test_a_batch_point_composes_with_an_existing_variant_and_is_read_back():
    assert batch_variant("", 16) == "batch=16"
    assert batch_variant("sdpa-L=1024", 16) == "sdpa-L=1024-batch=16"
    assert batch_variant("batch=4", 16) == "batch=16"  # replaced in place, not appended twice
    assert variant_batch("sdpa-L=1024-batch=16") == 16
    assert without_batch("sdpa-L=1024-batch=16") == "sdpa-L=1024"
    assert without_batch("batch=16") == ""


def test_variants_without_a_batch_name_none():
    assert variant_batch("") is None
    assert variant_batch("naive-L=128") is None
    assert variant_batch("batch=x") is None
    assert variant_batch("not a variant") is None
    assert Variant.parse("sdpa-L=1024").get_int("L") == 1024


def test_a_batch_below_one_is_no_sweep_point():
    with pytest.raises(VariantError):
        batch_variant("", 0)
