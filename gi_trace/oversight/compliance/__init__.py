"""The two shares of the city plan's 专栏4: GI special-mark users among the region's producers, and their output value.

Definitions (issue 5), for a product, a year Y, optionally one county, as of a date:

- producers of the region: producers registered for the product (ProducerProduct) whose registered
  base town is one of the product's protected towns (and in the county, when one is given);
- authorised user: a producer of the region whose authorisation for the product is in force on the
  as-of date (authorisation.rules.status_on: approved, not suspended, revoked or past its expiry);
- user share = authorised users / producers of the region, or / the official sector total of
  producers for that product, year and area when one exists;
- output share = output value in Y of the authorised users / output value in Y of all producers of
  the region, or / the official sector output value when one exists;
- each share is compared with the product's target (60% by default).

The area of the whole-city figure is the city: only a city-wide official total (county empty)
replaces its denominator; a county's official total replaces only that county's denominator.

The pure part (`shares`: tallies -> result, and a reference tally from plain facts) has no database;
`queries` gets the tallies from one aggregate query per call; `drilldown` lists every producer with
why it counts or not.
"""
from gi_trace.oversight.compliance.drilldown import (
    DRILLDOWN_COLUMNS,
    DRILLDOWN_FILTERS,
    drilldown,
    drilldown_all,
    drilldown_rows,
    reason_label,
)
from gi_trace.oversight.compliance.queries import (
    Query,
    authorised_subquery,
    compliance,
    compliance_for,
    in_force_in_period,
    in_year_tallies,
    on_register,
    officials,
    parse_query,
    product_counties,
    region_producers,
    scoped_county,
    series,
    tallies_sql,
)
from gi_trace.oversight.compliance.shares import (
    COUNTS,
    EXPIRED,
    FIRST_YEAR,
    NO_AUTHORISATION,
    NO_OUTPUT,
    OFFICIAL,
    OUTSIDE_TOWNS,
    PENDING,
    PROTECTED_AREA,
    REGISTER,
    REJECTED,
    REVOKED,
    SUSPENDED,
    WHOLE_SECTOR,
    Official,
    ProducerFacts,
    Tally,
    area_figures,
    assemble,
    default_as_of,
    meets,
    reasons,
    registered,
    share,
    tally_facts,
)

__all__ = [
    "COUNTS", "DRILLDOWN_COLUMNS", "DRILLDOWN_FILTERS", "EXPIRED", "FIRST_YEAR", "NO_AUTHORISATION", "NO_OUTPUT",
    "OFFICIAL", "OUTSIDE_TOWNS", "PENDING", "PROTECTED_AREA", "WHOLE_SECTOR", "in_force_in_period", "in_year_tallies",
    "on_register", "registered", "REGISTER", "REJECTED", "REVOKED", "SUSPENDED", "Official",
    "ProducerFacts", "Query", "Tally", "area_figures", "assemble", "authorised_subquery", "compliance",
    "compliance_for", "default_as_of", "drilldown", "drilldown_all", "drilldown_rows", "meets", "officials",
    "parse_query", "product_counties", "reason_label", "reasons", "region_producers", "scoped_county", "series",
    "share", "tallies_sql", "tally_facts",
]
