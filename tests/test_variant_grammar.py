"""The variant grammar: parts joined by "-", each a bare name or a key=value field."""

import pytest

from accelbench.core.spec import (
    Variant,
    VariantError,
    batch_variant,
    length_variant,
    parse_length_variant,
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


def test_a_length_point_names_its_curve_and_its_length_in_the_same_grammar():
    assert length_variant("sdpa", 4096) == "sdpa-L=4096"
    assert parse_length_variant("naive-L=128") == ("naive", 128)
    # composed with a batch: the curve is sdpa at batch 16, the point is length 1024
    assert parse_length_variant("sdpa-L=1024-batch=16") == ("sdpa-batch=16", 1024)
    assert parse_length_variant(batch_variant(length_variant("sdpa", 64), 2)) == (
        "sdpa-batch=2",
        64,
    )


@pytest.mark.parametrize(
    "text", ["", "naive", "L=128", "batch=4-L=128", "naive-L=x", "naive-L=1234567890", "a b-L=1"]
)
def test_variants_that_name_no_length_or_no_implementation_are_no_length_point(text):
    assert parse_length_variant(text) is None


@pytest.mark.parametrize("implementation", ["", "has space", "naive-L=64", "batch=2"])
def test_a_length_point_needs_an_implementation_that_names_no_length(implementation):
    with pytest.raises(VariantError):
        length_variant(implementation, 128)
