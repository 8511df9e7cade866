"""Every condition kind and operator, with the members expected on the fixture (see marts.py).

Each case: (id, audience YAML without `name:`, expected customer ids).
"""

from __future__ import annotations

ALL = {f"c{i:02d}" for i in range(1, 11)}

CASES: list[tuple[str, str, set[str]]] = [
    # -- traits: every operator ---------------------------------------------------------------
    ("trait_eq", "include: {trait: country, eq: US}", {"c01", "c02", "c08"}),
    ("trait_ne", "include: {trait: country, ne: US}", {"c03", "c05", "c06", "c07", "c10"}),
    ("trait_in", "include: {trait: country, in: [DE, FR]}", {"c03", "c05", "c06"}),
    ("trait_not_in", "include: {trait: country, not_in: [US, DE]}", {"c03", "c07", "c10"}),
    ("trait_gt", "include: {trait: total_revenue, gt: 500}", {"c01", "c08"}),
    ("trait_gte", "include: {trait: total_revenue, gte: 500}", {"c01", "c05", "c06", "c08"}),
    ("trait_lt", "include: {trait: total_revenue, lt: 50}", {"c03", "c04", "c10"}),
    ("trait_lte", "include: {trait: total_revenue, lte: 50}", {"c02", "c03", "c04", "c10"}),
    ("trait_lte_float", "include: {trait: total_revenue, lte: 50.5}", {"c02", "c03", "c04", "c10"}),
    (
        "trait_between",
        "include: {trait: total_revenue, between: [100, 600]}",
        {"c05", "c06", "c07"},
    ),
    ("trait_contains", "include: {trait: email, contains: example.de}", {"c05", "c06"}),
    ("trait_starts_with", "include: {trait: email, starts_with: ann}", {"c01"}),
    ("trait_ends_with", "include: {trait: email, ends_with: .com}", {"c01", "c02", "c08"}),
    ("trait_contains_percent", "include: {trait: email, contains: '%'}", set()),
    ("trait_starts_with_underscore", "include: {trait: email, starts_with: _}", set()),
    ("trait_is_null", "include: {trait: email, is_null: true}", {"c04"}),
    ("trait_is_not_null", "include: {trait: email, is_null: false}", ALL - {"c04"}),
    ("trait_within", "include: {trait: last_order_at, within: 30d}", {"c01", "c05", "c07"}),
    ("trait_within_hours", "include: {trait: last_order_at, within: 24h}", {"c07"}),
    ("trait_older_than", "include: {trait: last_order_at, older_than: 90d}", {"c02"}),
    (
        "trait_older_than_weeks",
        "include: {trait: last_order_at, older_than: 6w}",
        {"c02", "c06", "c08"},
    ),
    ("trait_bool_eq", "include: {trait: is_anonymous, eq: true}", {"c04"}),
    ("trait_bool_ne", "include: {trait: is_anonymous, ne: true}", ALL - {"c04"}),
    (
        "trait_bool_false",
        "include: {trait: consent_marketing, eq: false}",
        {"c02", "c04", "c06", "c09"},
    ),
    ("trait_quote", 'include: {trait: last_name, eq: "O\'Brien"}', {"c10"}),
    (
        "trait_date_gte",
        "include: {trait: first_seen_at, gte: 2026-08-01}",
        {"c03", "c04", "c09", "c10"},
    ),
    (
        "trait_iso_string",
        "include: {trait: first_seen_at, lt: '2025-01-01T00:00:00Z'}",
        {"c08"},
    ),
    ("trait_int_eq", "include: {trait: order_count, eq: 0}", {"c03", "c04", "c09", "c10"}),
    ("trait_in_single", "include: {trait: lifecycle_stage, in: [lead]}", {"c03", "c09", "c10"}),
    # -- events --------------------------------------------------------------------------------
    (
        "event_count_window",
        """include:
  event: page_viewed
  where: {page_path: {eq: /pricing}}
  count: {gte: 3}
  within: 30d""",
        {"c01", "c03", "c04", "c05"},
    ),
    (
        "event_where_shorthand",
        "include: {event: page_viewed, where: {page_path: /pricing}}",
        {"c01", "c02", "c03", "c04", "c05", "c06"},
    ),
    (
        "event_count_eq",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {eq: 4}}",
        {"c03"},
    ),
    (
        "event_count_lt_includes_zero",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {lt: 2}}",
        {"c06", "c07", "c08", "c09", "c10"},
    ),
    (
        "event_count_between",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {between: [2, 3]}}",
        {"c01", "c02", "c04", "c05"},
    ),
    (
        "event_count_ne",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {ne: 3}}",
        {"c02", "c03", "c06", "c07", "c08", "c09", "c10"},
    ),
    (
        "event_count_gt",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {gt: 3}}",
        {"c03"},
    ),
    (
        "event_count_lte",
        "include: {event: page_viewed, where: {page_path: /pricing}, count: {lte: 1}}",
        {"c06", "c07", "c08", "c09", "c10"},
    ),
    ("event_any_within", "include: {event: any, within: 2d}", {"c07", "c10"}),
    (
        "event_between_window",
        "include: {event: page_viewed, between: {from: 100d, to: 30d}}",
        {"c03"},
    ),
    ("event_after", "include: {event: page_viewed, after: 2026-10-28}", {"c03", "c06", "c10"}),
    ("event_before", "include: {event: page_viewed, before: 2026-10-02}", {"c03", "c08"}),
    (
        "event_after_before",
        "include: {event: page_viewed, after: 2026-10-05, before: 2026-10-06}",
        {"c01", "c04", "c08"},
    ),
    (
        "event_after_datetime_tz",
        "include: {event: page_viewed, after: '2026-10-05T11:00:00+02:00', before: 2026-10-06}",
        {"c01", "c04", "c08"},
    ),
    (
        "event_property_eq",
        "include: {event: product_viewed, where: {properties.plan: pro}}",
        {"c06", "c07"},
    ),
    (
        "event_property_number",
        "include: {event: product_viewed, where: {properties.price: {gt: 40}}}",
        {"c06", "c07"},
    ),
    (
        "event_property_lt",
        "include: {event: product_viewed, where: {properties.price: {lt: 20}}}",
        {"c08"},
    ),
    (
        "event_property_nested",
        "include: {event: product_viewed, where: {properties.tags.color: red}}",
        {"c08"},
    ),
    (
        "event_property_quote",
        'include: {event: product_viewed, where: {properties.plan: "it\'s"}}',
        {"c10"},
    ),
    (
        "event_property_in",
        "include: {event: product_viewed, where: {properties.plan: [basic, pro]}}",
        {"c06", "c07", "c08"},
    ),
    (
        "event_property_is_null",
        "include: {event: product_viewed, where: {properties.missing: {is_null: true}}}",
        {"c06", "c07", "c08", "c10"},
    ),
    (
        "event_property_between",
        "include: {event: product_viewed, where: {properties.price: {between: [10, 50]}}}",
        {"c06", "c08"},
    ),
    (
        "event_where_starts_with",
        "include: {event: page_viewed, where: {page_path: {starts_with: /docs}}}",
        {"c08", "c10"},
    ),
    (
        "event_where_contains_quote",
        'include: {event: page_viewed, where: {page_path: {contains: "it\'s"}}}',
        {"c10"},
    ),
    (
        "event_where_two_columns",
        "include: {event: any, where: {event_type: page, page_path: {ends_with: s}}}",
        {"c08", "c10"},
    ),
    (
        "event_aggregate_property_sum",
        "include: {event: product_viewed, aggregate: {sum: properties.price, gte: 50}}",
        {"c07"},
    ),
    (
        "event_aggregate_max_time",
        "include: {event: page_viewed, aggregate: {max: occurred_at, lt: 2026-10-06}}",
        {"c08"},
    ),
    (
        "event_followed_by_order",
        "include: {event: product_added, followed_by: {order: {}, within: 1d}}",
        {"c01", "c07"},
    ),
    (
        "event_not_followed_by_order",
        "include: {event: product_added, not_followed_by: {order: {}, within: 1d}}",
        {"c02", "c05"},
    ),
    (
        "event_followed_by_event",
        """include:
  event: page_viewed
  where: {page_path: /pricing}
  followed_by: {event: product_added, within: 1d}""",
        {"c02"},
    ),
    (
        "event_followed_by_unbounded",
        "include: {event: product_viewed, followed_by: {event: product_added}}",
        {"c07"},
    ),
    (
        "event_followed_by_where",
        "include: {event: page_viewed, followed_by: "
        "{event: product_viewed, where: {properties.plan: basic}}}",
        {"c08"},
    ),
    (
        "event_not_followed_by_completed",
        """include:
  event: product_added
  not_followed_by: {order: {where: {status: {eq: completed}}}}""",
        {"c02"},
    ),
    ("event_name_only", "include: {event: product_added}", {"c01", "c02", "c05", "c07"}),
    ("event_unknown_name", "include: {event: never_happened}", set()),
    # -- orders --------------------------------------------------------------------------------
    ("order_any", "include: {order: {}}", ALL - {"c03", "c04", "c09"}),
    ("order_null_body", "include: {order: }", ALL - {"c03", "c04", "c09"}),
    (
        "order_completed",
        "include: {order: {where: {status: {eq: completed}}}}",
        {"c01", "c02", "c05", "c06", "c07", "c08"},
    ),
    ("order_channel", "include: {order: {where: {channel: pos}}}", {"c05", "c06"}),
    (
        "order_sum",
        "include: {order: {where: {status: completed}, aggregate: {sum: total_amount, gte: 500}}}",
        {"c01", "c05", "c06", "c08"},
    ),
    ("order_count", "include: {order: {count: {gte: 4}}}", {"c01", "c08"}),
    ("order_within", "include: {order: {within: 30d}}", {"c01", "c05", "c07", "c10"}),
    ("order_count_zero", "include: {order: {count: {eq: 0}}}", {"c03", "c04", "c09"}),
    ("order_avg", "include: {order: {aggregate: {avg: total_amount, lt: 100}}}", {"c02", "c10"}),
    (
        "order_min_time",
        "include: {order: {aggregate: {min: ordered_at, gte: 2026-01-01}}}",
        {"c02", "c05", "c06", "c07", "c10"},
    ),
    (
        "order_between_window",
        "include: {order: {between: {from: 400d, to: 200d}}}",
        {"c01", "c05", "c06", "c08"},
    ),
    (
        "order_where_count",
        "include: {order: {where: {total_amount: {gt: 250}}, count: {gte: 2}}}",
        {"c08"},
    ),
    # -- percentiles -----------------------------------------------------------------------------
    (
        "percentile_top_percent",
        "include: {percentile: {trait: total_revenue, top_percent: 20}}",
        {"c01", "c08"},
    ),
    (
        "percentile_top_n_ties",
        "include: {percentile: {trait: total_revenue, top: 3}}",
        {"c01", "c05", "c08"},
    ),
    (
        "percentile_bottom_n",
        "include: {percentile: {trait: total_revenue, bottom: 2}}",
        {"c03", "c04"},
    ),
    (
        "percentile_bottom_percent",
        "include: {percentile: {trait: total_revenue, bottom_percent: 50}}",
        {"c02", "c03", "c04", "c07", "c10"},
    ),
    (
        "percentile_where",
        "include: {percentile: {trait: total_revenue, top_percent: 50, "
        "where: {total_revenue: {gt: 0}}}}",
        {"c01", "c05", "c08"},
    ),
    (
        "percentile_all",
        "include: {percentile: {trait: total_revenue, top_percent: 100}}",
        ALL - {"c09"},
    ),
    ("percentile_timestamp", "include: {percentile: {trait: last_seen_at, top: 1}}", {"c07"}),
    # -- combinators -----------------------------------------------------------------------------
    (
        "all",
        "include: {all: [{trait: country, eq: US}, {order: {count: {gte: 4}}}]}",
        {"c01", "c08"},
    ),
    ("any", "include: {any: [{trait: country, eq: FR}, {trait: country, eq: IE}]}", {"c03", "c10"}),
    (
        "not_counts_null_as_false",
        "include: {not: {trait: country, eq: US}}",
        {"c03", "c04", "c05", "c06", "c07", "c09", "c10"},
    ),
    (
        "list_means_all",
        "include: [{trait: country, eq: DE}, {trait: consent_marketing, eq: true}]",
        {"c05"},
    ),
    ("not_event", "include: {not: {event: page_viewed}}", {"c07", "c09"}),
    (
        "not_any",
        "include: {not: {any: [{trait: country, eq: US}, {trait: country, is_null: true}]}}",
        {"c03", "c05", "c06", "c07", "c10"},
    ),
    (
        "nested",
        """include:
  all:
    - any: [{trait: country, eq: DE}, {trait: country, eq: US}]
    - not: {order: {where: {channel: web}}}""",
        {"c06"},
    ),
    ("double_not", "include: {not: {not: {trait: country, eq: US}}}", {"c01", "c02", "c08"}),
    # -- exclude and consent ---------------------------------------------------------------------
    (
        "exclude",
        "include: {trait: country, in: [US, DE]}\nexclude: {trait: total_revenue, gte: 1000}",
        {"c02", "c05", "c06"},
    ),
    (
        "exclude_null_kept",
        "include: {trait: is_anonymous, eq: false}\nexclude: {trait: country, eq: US}",
        {"c03", "c05", "c06", "c07", "c09", "c10"},
    ),
    (
        "consent_marketing",
        "include: {trait: is_anonymous, eq: false}\nconsent: marketing",
        {"c01", "c03", "c05", "c07", "c08", "c10"},
    ),
    (
        "consent_advertising",
        "include: {trait: is_anonymous, eq: false}\nconsent: advertising",
        {"c01", "c02", "c07", "c10"},
    ),
]

# Audience references: (id, YAML list of audiences, audience to evaluate, expected ids)
REFERENCE_CASES: list[tuple[str, str, str, set[str]]] = [
    (
        "reference",
        """- name: us_buyers
  include: {all: [{trait: country, eq: US}, {order: {}}]}
  exclude: {trait: total_revenue, gt: 1500}
  consent: marketing
- name: ref
  include: {audience: us_buyers}""",
        "ref",
        {"c01"},
    ),
    (
        "not_reference",
        """- name: us_buyers
  include: {all: [{trait: country, eq: US}, {order: {}}]}
  exclude: {trait: total_revenue, gt: 1500}
  consent: marketing
- name: ref
  include: {not: {audience: us_buyers}}""",
        "ref",
        ALL - {"c01"},
    ),
    (
        "chained_reference",
        """- name: a
  include: {trait: country, in: [US, DE]}
- name: b
  include: [{audience: a}, {trait: total_revenue, gte: 500}]
- name: c
  include: {audience: b}
  exclude: {trait: country, eq: DE}""",
        "c",
        {"c01", "c08"},
    ),
    (
        "reference_ignores_holdout",
        """- name: a
  include: {trait: country, in: [US, DE]}
  split: {holdout_percent: 99.99}
- name: b
  include: {audience: a}""",
        "b",
        {"c01", "c02", "c05", "c06", "c08"},
    ),
]
