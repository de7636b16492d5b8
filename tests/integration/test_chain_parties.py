"""Parties of the chain: traders, processors, markets and retailers on the register beside growers."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.errors import ValidationError
from gi_trace.registry.imports import import_file
from gi_trace.registry.models import Producer, ProducerProduct
from gi_trace.registry.services import ProducerInput, create_producer
from tests import factories
from tests.integration.test_registry_import import csv_bytes, xlsx_bytes

PARTY_HEADER = ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "contact"]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}


def party_rows():
    return [
        [factories.valid_uscc(11), "", "宁夏杞乡枸杞商行", "trader", "640521", "640521100", "0955-5012345"],
        [factories.valid_uscc(12), "", "中宁杞韵食品有限公司", "加工企业", "640521", "640521102", "王经理"],
        [factories.valid_uscc(13), "", "中宁枸杞交易市场", "market", "640521", "640521100", ""],
        ["", "ZN-HH-0900", "李四", "household", "640521", "640521104", "13900000000"],
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_parties_import_registers_every_kind(session, fmt):
    data = csv_bytes(PARTY_HEADER, party_rows()) if fmt == "csv" else xlsx_bytes(PARTY_HEADER, party_rows())
    result = import_file(session, "parties", data, filename=f"parties.{fmt}")
    assert result.ok and result.inserted == 4, [(p.row, p.column, p.message) for p in result.errors]
    parties = {p.name: p for p in session.exec(select(Producer)).all()}
    assert parties["宁夏杞乡枸杞商行"].kind == "trader"
    assert parties["宁夏杞乡枸杞商行"].contact_phone == "0955-5012345"
    assert parties["中宁杞韵食品有限公司"].kind == "processor"
    assert parties["中宁杞韵食品有限公司"].contact_name == "王经理"
    assert parties["李四"].registry_no == "ZN-HH-0900" and parties["李四"].uscc is None
    # Parties bring no product registration: they are not members of the compliance shares.
    assert session.exec(select(ProducerProduct)).all() == []


def test_reimporting_parties_changes_nothing(session):
    data = csv_bytes(PARTY_HEADER, party_rows())
    import_file(session, "parties", data, filename="p.csv")
    again = import_file(session, "parties", data, filename="p.csv")
    assert again.ok and again.inserted == 0 and again.updated == 0 and again.unchanged == 4


def test_bad_party_rows_are_all_named_and_nothing_is_written(session):
    rows = party_rows() + [
        ["", "", "无码商行", "trader", "640521", "640521100", ""],  # a business needs a USCC
        [factories.valid_uscc(14), "", "某某", "wholesaler", "640521", "640521100", ""],  # unknown kind
    ]
    result = import_file(session, "parties", csv_bytes(PARTY_HEADER, rows), filename="p.csv")
    assert not result.ok
    assert {(p.row, p.column) for p in result.errors} == {(6, "uscc"), (7, "kind")}
    assert session.exec(select(Producer)).all() == []


def test_missing_contact_column_is_named(session):
    header = PARTY_HEADER[:-1]
    result = import_file(session, "parties", csv_bytes(header, [r[:-1] for r in party_rows()]), filename="p.csv")
    assert not result.ok and [(p.row, p.column) for p in result.errors] == [(1, "contact")]


def test_regulator_registers_a_trader_by_form_rules(session):
    regulator = factories.UserFactory(role="regulator")
    party = create_producer(session, regulator, ProducerInput(
        name="宁夏杞乡枸杞商行", kind="trader", county_code="640521", town_code="640521100",
        uscc=factories.valid_uscc(21)))
    assert party.kind == "trader"
    with pytest.raises(ValidationError) as refused:
        create_producer(session, regulator, ProducerInput(name="无码", kind="processor", county_code="640521",
                                                          town_code="640521100"))
    assert refused.value.field == "uscc"
