"""Repeated scans of one code: counters, distinct networks, counterfeit flags for regulators, write-behind."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.db import get_engine
from gi_trace.scan.models import CounterfeitFlag, ScanCounter, ScanNetwork
from gi_trace.scan.recorder import ScanRecorder
from gi_trace.scan.services import Scans, record_scans, thresholds
from gi_trace.types import utcnow
from tests import factories
from tests.conftest import login
from tests.factories_scan import lot_from_tested_harvest, unit_code


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SCAN_UNIT_FLAG_NETWORKS": 3, "SCAN_UNIT_FLAG_DAYS": 3,
            "SCAN_BATCH_FLAG_NETWORKS": 1000}


def _scan(client, code, address="198.51.100.7"):
    return client.get(f"/t/{code}", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)


def test_many_scans_from_one_network_raise_no_flag_and_no_caution(client, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    for _ in range(25):
        html = _scan(client, unit.code)
    assert session.exec(select(CounterfeitFlag)).all() == []
    assert 'class="caution"' not in html and "可能被复制" not in html and "已被扫描25次" in html


def test_scans_from_a_third_network_raise_one_flag_and_say_what_was_seen(client, session):
    grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    _scan(client, unit.code, "198.51.100.7")
    html = _scan(client, unit.code, "203.0.113.5")
    assert 'class="caution"' not in html
    html = _scan(client, unit.code, "192.0.2.1")
    assert "此码已在 3 个不同网络被扫描，首次扫描于" in html and "可能被复制" not in html
    for i in range(3):
        _scan(client, unit.code, f"10.{i}.0.1")
    flags = session.exec(select(CounterfeitFlag)).all()
    assert [(f.code, f.reason, f.networks, f.producer_id, f.status) for f in flags] == [
        (unit.code, "networks", 3, grower.producer.id, "open")]


def test_scans_on_several_days_from_two_networks_raise_a_days_flag(app, session):
    from datetime import timedelta

    _grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    start = utcnow()
    limits = thresholds(app.config)
    for day in range(3):  # one network, three days: the buyer
        when = start + timedelta(days=day)
        with get_engine(app).begin() as conn:
            assert record_scans(conn, [Scans(unit.code, "unit", lot.id, lot.producer_id, "home", 1, when, when)],
                                limits) == []
    when = start + timedelta(days=3)
    with get_engine(app).begin() as conn:
        raised = record_scans(conn, [Scans(unit.code, "unit", lot.id, lot.producer_id, "elsewhere", 1, when, when)],
                              limits)
    assert raised == [unit.code]
    flag = session.exec(select(CounterfeitFlag)).one()
    assert (flag.reason, flag.networks) == ("days", 2)


def test_scans_by_the_owner_and_by_regulators_are_not_counted(app, client, session):
    grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    factories.UserFactory(username="inspector", role="regulator")
    owner_name = grower.user.username
    session.commit()
    from flask import g

    for username, address in ((owner_name, "198.51.100.7"), ("inspector", "203.0.113.5")):
        browser = app.test_client()
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        login(browser, username)
        for _ in range(2):
            _scan(browser, unit.code, address)
        g.pop("_login_user", None)
    assert session.get(ScanCounter, unit.code) is None
    html = _scan(client, unit.code, "192.0.2.1")
    assert "这是此码的首次扫描。" in html


def test_scans_from_many_networks_raise_a_network_flag(client, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    _scan(client, unit.code, "198.51.100.7")
    _scan(client, unit.code, "198.51.100.99")  # same /24: the same network
    counter = session.get(ScanCounter, unit.code)
    assert (counter.scans, counter.networks) == (2, 1)
    _scan(client, unit.code, "203.0.113.5")
    _scan(client, unit.code, "2001:db8:1::1")
    session.expire_all()
    counter = session.get(ScanCounter, unit.code)
    assert (counter.scans, counter.networks, counter.flagged) == (4, 3, True)
    flag = session.exec(select(CounterfeitFlag)).one()
    assert (flag.reason, flag.networks) == ("networks", 3)
    assert len(session.exec(select(ScanNetwork).where(ScanNetwork.code == unit.code)).all()) == 3


def test_batch_codes_use_their_own_higher_limits(client, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    for i in range(8):
        _scan(client, lot.code, f"10.{i}.0.1")
    assert session.exec(select(CounterfeitFlag)).all() == []


@pytest.mark.parametrize("county, sees", [(None, True), ("640521", True), ("640522", False)])
def test_regulators_see_flags_in_their_scope(client, session, county, sees):
    _grower, _harvest, lot = lot_from_tested_harvest(session)  # a producer in 中宁县 640521
    unit = unit_code(session, lot)
    factories.UserFactory(username="inspector", role="regulator", county_code=county)
    session.commit()
    for i in range(3):
        _scan(client, unit.code, f"10.{i}.0.1")
    assert client.get("/scan/flags").status_code == 302  # anonymous: to the login page
    login(client, "inspector")
    page = client.get("/scan/flags").get_data(as_text=True)
    assert (unit.code[:4] in page and "扫描网络过多" in page) is sees


def test_batched_writes_add_up_scans_and_networks(app, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    now = utcnow()
    items = [Scans(unit.code, "unit", lot.id, lot.producer_id, net, 1, now, now) for net in ("a", "a", "b")]
    items.append(Scans(lot.code, "batch", lot.id, lot.producer_id, "a", 2, now, now))
    with get_engine(app).begin() as conn:
        raised = record_scans(conn, items, thresholds(app.config))
    assert raised == []
    with get_engine(app).begin() as conn:
        raised = record_scans(conn, [Scans(unit.code, "unit", lot.id, lot.producer_id, "c", 1, now, now)],
                              thresholds(app.config))
    assert raised == [unit.code]  # a third network
    session.expire_all()
    assert (session.get(ScanCounter, unit.code).scans, session.get(ScanCounter, unit.code).networks) == (4, 3)
    assert session.get(ScanCounter, lot.code).scans == 2


def test_write_behind_recorder_counts_at_once_and_writes_on_flush(app_config, session):
    from gi_trace import create_app

    app = create_app({**app_config, "SCAN_FLUSH_SECONDS": 3600})
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    client = app.test_client()
    assert "这是此码的首次扫描。" in _scan(client, unit.code)
    assert "已被扫描2次" in _scan(client, unit.code)  # not written yet, counted from this process's buffer
    assert session.get(ScanCounter, unit.code) is None
    recorder: ScanRecorder = app.extensions["gi_trace.scan_recorder"]
    recorder.close()
    session.expire_all()
    counter = session.get(ScanCounter, unit.code)
    assert (counter.scans, counter.networks) == (2, 1)
    assert recorder.pending(unit.code).scans == 0
    get_engine(app).dispose()
