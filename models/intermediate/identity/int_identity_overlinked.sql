{#- Identifiers linked to implausibly many others (a shared device, a family email, junk that
    slipped through). They stop merging people: none of their links are used and they are
    nobody's identifier. One row per (identifier, linked type, rule) over the limit:
    - max_links: more distinct identifiers of the linked type than var
      cdpkit_identity_types.<type>.max_links.<linked type>;
    - max_concurrent: more identifiers of the linked type in use at the same time (their link's
      first..last seen intervals overlap) than .max_concurrent.<linked type>. -#}
{%- set caps = {'max_links': [], 'max_concurrent': []} -%}
{%- for t in cdpkit_identity_types() -%}
    {%- for rule in ['max_links', 'max_concurrent'] -%}
        {%- for linked, n in t[rule].items() -%}
            {%- do caps[rule].append({'type': t.name, 'linked': linked, 'n': n | int}) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor -%}

with nodes as (
    select * from {{ ref('int_identity_nodes') }}
),

edges as (
    select node_a, node_b, first_seen_at, last_seen_at from {{ ref('int_identity_edges') }}
),

links as (
    select
        both_directions.node_id,
        own.identifier_type,
        others.identifier_type as linked_type,
        both_directions.first_seen_at,
        both_directions.last_seen_at
    from (
        select node_a as node_id, node_b as other_id, first_seen_at, last_seen_at from edges
        union all
        select node_b as node_id, node_a as other_id, first_seen_at, last_seen_at from edges
    ) as both_directions
    inner join nodes as own on own.node_id = both_directions.node_id
    inner join nodes as others on others.node_id = both_directions.other_id
),

link_caps as ({{ cdpkit_identity_caps_sql(caps['max_links']) }}
),

concurrency_caps as ({{ cdpkit_identity_caps_sql(caps['max_concurrent']) }}
),

link_counts as (
    select links.node_id, links.linked_type, count(*) as linked_count, link_caps.max_links
    from links
    inner join link_caps
        on link_caps.identifier_type = links.identifier_type
        and link_caps.linked_type = links.linked_type
    group by links.node_id, links.linked_type, link_caps.max_links
    having count(*) > link_caps.max_links
),

{#- Sweep line over the link intervals: +1 at first seen, -1 at last seen (starts first at one
    instant, so touching intervals count as overlapping). -#}
interval_ends as (
    select links.node_id, links.linked_type, links.first_seen_at as at_time, 1 as delta, concurrency_caps.max_links
    from links
    inner join concurrency_caps
        on concurrency_caps.identifier_type = links.identifier_type
        and concurrency_caps.linked_type = links.linked_type
    union all
    select links.node_id, links.linked_type, links.last_seen_at as at_time, -1 as delta, concurrency_caps.max_links
    from links
    inner join concurrency_caps
        on concurrency_caps.identifier_type = links.identifier_type
        and concurrency_caps.linked_type = links.linked_type
),

running as (
    select
        node_id,
        linked_type,
        max_links,
        sum(delta) over (
            partition by node_id, linked_type
            order by at_time, delta desc
            rows between unbounded preceding and current row
        ) as in_use
    from interval_ends
),

concurrency_counts as (
    select node_id, linked_type, max(in_use) as linked_count, max_links
    from running
    group by node_id, linked_type, max_links
    having max(in_use) > max_links
),

over_limit as (
    select node_id, linked_type, linked_count, max_links, 'max_links' as rule from link_counts
    union all
    select node_id, linked_type, linked_count, max_links, 'max_concurrent' as rule from concurrency_counts
)

select
    nodes.node_id,
    nodes.identifier_type,
    nodes.identifier_value,
    over_limit.linked_type,
    over_limit.rule,
    over_limit.linked_count,
    over_limit.max_links
from over_limit
inner join nodes on nodes.node_id = over_limit.node_id
