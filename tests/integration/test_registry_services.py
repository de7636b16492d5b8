"""Registering producers: credit-code rules, households, county scope."""
import pytest
from sqlmodel import select

from gi_trace.errors import Forbidden, ValidationError
from gi_trace.registry.models import Producer, ProducerProduct
from gi_trace.registry.services import ProducerInput, create_producer
from tests import factories


def _input(**kw):
    base = dict(name="宁安镇红枸杞合作社", kind="cooperative", county_code="640521", town_code="640521100",
                uscc="912301847345944427", products=["zhongning-goji"])
    base.update(kw)
    return ProducerInput(**base)


def test_valid_producer_is_registered_for_its_products(session):
    admin = factories.UserFactory(role="admin")
    producer = create_producer(session, admin, _input())
    assert producer.uscc_check_ok and producer.created_by == admin.id
    assert session.exec(select(ProducerProduct).where(ProducerProduct.producer_id == producer.id)).one()


def test_bad_check_character_needs_a_regulator_to_accept_it(session):
    admin = factories.UserFactory(role="admin")
    with pytest.raises(ValidationError) as exc:
        create_producer(session, admin, _input(uscc="912301847345944428"))
    assert exc.value.code == "warning" and exc.value.field == "uscc"
    producer = create_producer(session, admin, _input(uscc="912301847345944428"), accept_warnings=True)
    assert not producer.uscc_check_ok and producer.uscc_warning_accepted_by == admin.id


@pytest.mark.parametrize("changes,field", [
    ({"uscc": "91230184734594442"}, "uscc"),
    ({"uscc": "91230184734594442O"}, "uscc"),
    ({"uscc": ""}, "uscc"),
    ({"kind": "household", "uscc": ""}, "registry_no"),
    ({"town_code": "640522100"}, "town_code"),
    ({"county_code": "999999"}, "county_code"),
    ({"name": "  "}, "name"),
    ({"kind": "pirate"}, "kind"),
    ({"products": ["no-such-product"]}, "products"),
])
def test_invalid_producer_data_names_the_field(session, changes, field):
    admin = factories.UserFactory(role="admin")
    with pytest.raises(ValidationError) as exc:
        create_producer(session, admin, _input(**changes))
    assert exc.value.field == field
    assert session.exec(select(Producer)).all() == []


def test_household_without_code_gets_registry_number(session):
    admin = factories.UserFactory(role="admin")
    producer = create_producer(session, admin, _input(kind="household", uscc="", registry_no="ZN-HH-00017"))
    assert producer.uscc is None and producer.code == "ZN-HH-00017"


def test_county_regulator_registers_only_in_its_county(session):
    haiyuan = factories.UserFactory(role="regulator", county_code="640522")
    with pytest.raises(Forbidden):
        create_producer(session, haiyuan, _input())


def test_duplicate_credit_code_is_refused(session):
    admin = factories.UserFactory(role="admin")
    create_producer(session, admin, _input())
    with pytest.raises(ValidationError) as exc:
        create_producer(session, admin, _input(name="another"))
    assert exc.value.field == "uscc"


def test_a_town_outside_the_county_is_named_with_its_code(session):
    admin = factories.UserFactory(role="admin")
    with pytest.raises(ValidationError) as exc:
        create_producer(session, admin, _input(town_code="640522100"))  # 海城镇 of 海原县, not 中宁县
    message = str(exc.value.message) + " ".join(str(p.message) for p in getattr(exc.value, "problems", []) or [])
    assert "海城镇 640522100" in message and "中宁县 640521" in message, message
