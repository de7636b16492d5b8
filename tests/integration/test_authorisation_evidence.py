"""Authorisations with their evidence: plots in the protected towns, declared sources, coded reasons, renewals."""
from datetime import date

import pytest
from sqlmodel import select

from gi_trace.authorisation import services
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import DecisionInput
from gi_trace.errors import Refused, ValidationError
from tests import factories


@pytest.fixture
def regulator(session):
    return factories.UserFactory(role="regulator")


def approval(**kwargs) -> DecisionInput:
    return DecisionInput("approve", date(2025, 3, 1), reference_no="中宁地标许字〔2025〕3号", **kwargs)


def test_approval_without_plots_in_the_protected_area_is_refused(session, regulator):
    producer = factories.ProducerFactory(kind="family_farm")
    factories.PlotFactory(producer_id=producer.id, town_code="640521206")  # 太阳梁乡: not protected
    with pytest.raises(Refused) as exc:
        services.decide(session, regulator, producer, factories.goji(), approval())
    assert exc.value.field == "plots"
    assert session.exec(select(AuthorisationDecision)).all() == []
    factories.PlotFactory(producer_id=producer.id, town_code="640521101")  # 鸣沙镇: protected
    decision = services.decide(session, regulator, producer, factories.goji(),
                               approval(contract_no="许可合同〔2025〕3", notice_no="公告〔2025〕1号",
                                        standard="GB/T 18672-2014", test_report_no="NX-2025-0012"))
    assert (decision.contract_no, decision.notice_no, decision.standard, decision.test_report_no) == (
        "许可合同〔2025〕3", "公告〔2025〕1号", "GB/T 18672-2014", "NX-2025-0012")


def test_processor_without_plots_declares_its_sources(session, regulator):
    firm = factories.ProducerFactory(kind="enterprise")
    with pytest.raises(Refused) as exc:
        services.decide(session, regulator, firm, factories.goji(), approval())
    assert exc.value.field == "sources"
    decision = services.decide(session, regulator, firm, factories.goji(),
                               approval(sources="中宁县舟塔乡种植户收购，附收购台账"))
    assert decision.sources.startswith("中宁县舟塔乡")


def test_reasons_are_coded_and_other_needs_text(session, regulator):
    producer = factories.grower()
    goji = factories.goji()
    services.decide(session, regulator, producer, goji, approval())
    with pytest.raises(ValidationError) as exc:
        services.decide(session, regulator, producer, goji, DecisionInput("suspend", date(2025, 6, 1),
                                                                          reason_code="other"))
    assert exc.value.field == "reason"
    with pytest.raises(ValidationError) as exc:
        services.decide(session, regulator, producer, goji, DecisionInput("suspend", date(2025, 6, 1),
                                                                          reason_code="bad"))
    assert exc.value.field == "reason_code"
    suspended = services.decide(session, regulator, producer, goji,
                                DecisionInput("suspend", date(2025, 6, 1), reason_code="refused_inspection"))
    assert suspended.reason_code == "refused_inspection" and suspended.reason == ""
    revoked = services.decide(session, regulator, producer, goji,
                              DecisionInput("revoke", date(2025, 7, 1), reason="拒不整改"))
    assert revoked.reason_code == "other"


def test_default_term_and_renewal_reminders_60_days_ahead(session, regulator):
    goji = factories.goji()
    assert services.default_valid_until(goji, date(2025, 3, 1)) == date(2028, 2, 29)
    soon, later = factories.grower(), factories.grower()
    services.decide(session, regulator, soon, goji, approval(valid_until=date(2026, 4, 30)))
    services.decide(session, regulator, later, goji, approval(valid_until=date(2026, 5, 30)))
    due = services.renewals_due(session, regulator, [goji], date(2026, 3, 15))
    assert [p.id for p, _product, _st in due] == [soon.id]
    assert [p.id for p, _pr, _st in services.renewals_due(session, regulator, [goji], date(2026, 4, 1))] == [
        soon.id, later.id]
