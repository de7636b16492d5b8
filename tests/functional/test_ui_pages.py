"""What producers and regulators see on the portal pages (issue 16)."""
from __future__ import annotations

import re

from tests.conftest import login
from tests.ui import walk


def test_the_header_name_leads_home_not_to_the_api_tokens(app):
    world = walk.seeded_world(app)
    for user, home in (("producer_a", "/batches"), ("regulator_city", "/oversight/")):
        client = app.test_client()
        login(client, world.users[user].username)
        html = client.get("/authorised-users").get_data(as_text=True)
        header = html[html.index("<header"):html.index("</header>")]
        name_link = re.search(r'<a class="who" href="([^"]+)"', header)
        assert name_link and name_link.group(1) == home
        assert "/account/tokens" not in header
