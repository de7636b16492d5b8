"""demo-data records a chain across owners: households → two dealers → a processor with unit codes."""
import re

from sqlmodel import select

from gi_trace.tracing.models import Purchase, Shipment
from tests.conftest import login


def test_demo_chain_shows_the_processor_package_back_to_the_households(runner, client, session):
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^  dealer +/ demo12345 / trader ", result.output, re.M)
    printed = dict((what, code) for code, what in re.findall(r"^  ([2-9A-Z]{14})  (.+)$", result.output, re.M))
    package = printed["processor's package (一物一码): chain back to the households"]
    page = client.get(f"/t/{package}").get_data(as_text=True)
    custody = page[page.index('class="custody"'):page.index("</ol>", page.index('class="custody"'))]
    assert custody.index("农户 · ") < custody.index("枸杞商行") < custody.index("宁夏中杞食品有限公司")
    assert "✔" in page
    outside = [code for what, code in printed.items() if "outside the protected towns" in what][0]
    blend = client.get(f"/t/{outside}").get_data(as_text=True)
    assert "不能使用地理标志专用标志" in blend and "未登记种植户" in blend
    assert client.get(f"/api/v1/trace/{outside}").get_json()["gi_mark"] is False
    assert len(session.exec(select(Purchase)).all()) >= 30
    statuses = sorted(s.status for s in session.exec(select(Shipment)).all() if s.purchase_id is None)
    assert statuses == ["received", "received", "rejected"]
    verified = runner.invoke(args=["verify"])
    assert verified.exit_code == 0, verified.output
    # Logins of the trader work.
    login(client, "dealer", "demo12345")
    assert client.get("/purchases/new").status_code == 200
