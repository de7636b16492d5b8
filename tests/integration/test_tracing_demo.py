"""demo-data also records a traced season, so a newcomer can open a trace page at once."""
import re

from sqlmodel import select

from gi_trace.tracing import quality
from gi_trace.tracing.models import Batch, UnitCode


def test_demo_data_prints_trace_codes_that_open_and_verify(runner, client, session):
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    printed = re.findall(r"^  ([2-9A-Z]{14})  (.+)$", result.output, re.M)
    assert [what for _code, what in printed][:4] == ["harvest batch, tested and split",
                                                     "packing lot, partly distributed", "one package (一物一码)",
                                                     "batch whose test failed"]
    producer = session.exec(select(Batch).where(Batch.code == printed[0][0])).one().producer_id
    assert len(session.exec(select(Batch).where(Batch.producer_id == producer)).all()) == 5
    assert len(session.exec(select(UnitCode).join(Batch, Batch.id == UnitCode.batch_id)
                            .where(Batch.producer_id == producer)).all()) == 3
    verified = runner.invoke(args=["verify"])
    assert verified.exit_code == 0 and "batches verified" in verified.output
    pages = {what: client.get(f"/t/{code}") for code, what in printed}
    # every code opens; those of the demo's recall answer with the recall notice (410)
    assert all(page.status_code == (410 if "recall" in what or "withdrawn" in what else 200)
               for what, page in pages.items())
    assert "合格" in pages["harvest batch, tested and split"].get_data(as_text=True)
    assert "不合格" in pages["batch whose test failed"].get_data(as_text=True)
    # the failing batch fails by its measured values, the re-dried one is cleared by its re-test
    by_what = {what: session.exec(select(Batch).where(Batch.code == code)).first() for code, what in printed}
    failed = quality.test_verdict(session, by_what["batch whose test failed"])
    assert failed.state == "failed" and failed.failures == ["含水率 14.6% > 13%"]
    cleared = quality.test_verdict(session, by_what["batch re-dried and re-tested (failure cleared)"])
    assert (cleared.state, cleared.cleared_by, cleared.earlier_report_no) == ("cleared", "retest", "NX-2025-0820-05")


def test_demo_plot_inputs_show_on_the_page_and_close_the_plot_to_picking(runner, client, session):
    import pytest

    from gi_trace.errors import Refused
    from gi_trace.tracing import services
    from gi_trace.tracing.services import inputs

    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert re.search(r"safety interval: a harvest from the producer's plot .+ before 2025-09-10 is refused",
                     result.output), result.output
    printed = {what: code for code, what in re.findall(r"^  ([2-9A-Z]{14})  (.+)$", result.output, re.M)}
    page = client.get(f"/t/{printed['harvest batch, tested and split']}").get_data(as_text=True)
    assert "吡虫啉可湿性粉剂" in page and "PD20080001" in page and "腐熟羊粪" in page
    assert "园长" not in page  # who applied it is never public
    good = session.exec(select(Batch).where(Batch.code == printed["harvest batch, tested and split"])).one()
    user = next(u for u in _producer_users(session, good.producer_id))
    plots = inputs.own_plots(session, user)
    counts = inputs.count_inputs(session, [p.id for p in plots])
    plot = next(p for p in plots if counts.get(p.id))
    batch = services.open_batch(session, user, _goji(session),
                                services.BatchInput(cultivar="宁杞7号"))
    with pytest.raises(Refused) as exc:
        services.record_event(session, user, batch, services.EventInput(
            stage="harvest", occurred_at="2025-09-01T08:00:00+08:00", data={"plot_id": plot.id, "fresh_kg": 100}))
    assert "啶虫脒" in exc.value.message and "2025年9月10日" in exc.value.message


def _producer_users(session, producer_id):
    from gi_trace.accounts.models import User

    return session.exec(select(User).where(User.producer_id == producer_id)).all()


def _goji(session):
    from gi_trace.registry.models import Product

    return session.exec(select(Product).where(Product.slug == "zhongning-goji")).one()
