"""Users' annual use reports: drafted from records, confirmed in the portal, regulators see who has not."""
from __future__ import annotations

from datetime import date, datetime, timezone

from gi_trace.timeutil import local_today
from tests.conftest import csrf_token, login
from tests.factories import DecisionFactory, UserFactory, producer_user
from tests.factories_scan import lot_from_tested_harvest


def test_user_confirms_its_use_report_and_the_regulator_sees_who_has_not(client, session):
    year = local_today().year - 1
    grower, harvest, lot = lot_from_tested_harvest(session)
    for batch in (harvest, lot):
        batch.created_at = datetime(year, 9, 1, 4, tzinfo=timezone.utc)
    DecisionFactory(producer_id=grower.producer.id, effective_date=date(year - 2, 1, 1))
    from tests.factories import ProducerFactory

    silent = ProducerFactory(name="未报送合作社")
    DecisionFactory(producer_id=silent.id, effective_date=date(year - 2, 1, 1))
    UserFactory(username="city")
    session.commit()
    login(client, grower.user.username)
    page = client.get("/oversight/my/use-report").get_data(as_text=True)
    assert "采收批次" in page and "240 公斤" in page  # the harvest batch, dried
    token = csrf_token(client, "/oversight/my/use-report")
    response = client.post("/oversight/my/use-report", data={"csrf_token": token, "product": "zhongning-goji",
                                                              "note": "部分产品以散货销售，未贴码。"})
    assert response.status_code == 302
    again = client.post("/oversight/my/use-report", data={"csrf_token": token, "product": "zhongning-goji"})
    assert again.status_code == 422
    client.post("/logout", data={"csrf_token": token})
    login(client, "city")
    listing = client.get(f"/oversight/use-reports?product=zhongning-goji&year={year}").get_data(as_text=True)
    assert "未报送合作社" in listing and grower.producer.name not in listing.split("尚未报送")[1]
    assert "2家使用者中已有1家确认" in listing
    missing = listing.split("尚未报送")[1]
    assert "中宁县" in missing and "<td>640521</td>" not in missing  # the county by name, not its code


def test_a_seasons_batches_count_in_that_years_report_whenever_they_were_typed_in(session):
    from gi_trace.oversight import use_reports
    from tests.factories import goji

    grower, harvest, lot = lot_from_tested_harvest(session)  # picked, dried, tested and split in 2025
    for batch in (harvest, lot):
        batch.created_at = datetime(2026, 2, 1, tzinfo=timezone.utc)  # entered after the season
    session.flush()
    figures = use_reports.draft(session, grower.producer.id, goji(), 2025)
    assert (figures["harvest_batches"], figures["other_batches"]) == (1, 1)
    assert use_reports.draft(session, grower.producer.id, goji(), 2026)["harvest_batches"] == 0



def test_an_authorised_trader_confirms_its_use_report(client, session):
    """A dealer approved to use the mark but not registered as a grower of the product: its report is drafted
    and confirmed like a grower's, not a blank page; a party never approved is told there is nothing to do."""
    from tests.factories import ProducerFactory

    year = local_today().year - 1
    dealer = ProducerFactory(kind="trader", name="宁夏杞乡枸杞商行", products=[])
    DecisionFactory(producer_id=dealer.id, effective_date=date(year - 2, 1, 1))
    producer_user(dealer, "dealer")
    producer_user(ProducerFactory(kind="trader", name="未获准商行", products=[]), "unapproved")
    UserFactory(username="city")
    session.commit()
    login(client, "dealer")
    page = client.get("/oversight/my/use-report").get_data(as_text=True)
    assert "中宁枸杞" in page and "使用专用标志的数量" in page
    token = csrf_token(client, "/oversight/my/use-report")
    response = client.post("/oversight/my/use-report", data={"csrf_token": token, "product": "zhongning-goji"})
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": token})
    login(client, "unapproved")
    assert "无需确认使用情况报告" in client.get("/oversight/my/use-report").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})
    login(client, "city")  # the regulator counts the dealer among the users, and its report as received
    listing = client.get(f"/oversight/use-reports?product=zhongning-goji&year={year}").get_data(as_text=True)
    assert "1家使用者中已有1家确认" in listing and "未获准商行" not in listing
