{#- One row per pair of identifiers that co-occur in at least one source row (node_a < node_b):
    the unfiltered identity graph, with when, where and how often the link was seen. -#}
with occurrences as (
    select * from {{ ref('int_identity_occurrences') }}
),

pairs as (
    select
        a.node_id as node_a,
        b.node_id as node_b,
        a.source_name,
        a.first_seen_at,
        a.last_seen_at,
        a.row_count
    from occurrences as a
    inner join occurrences as b
        on b.tuple_key = a.tuple_key
        and b.node_id > a.node_id
),

grouped as (
    select
        node_a,
        node_b,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(row_count) as row_count,
        {{ cdpkit_identity_source_bits('source_name') }} as source_bits
    from pairs
    group by node_a, node_b
)

select
    node_a,
    node_b,
    first_seen_at,
    last_seen_at,
    row_count,
    {{ cdpkit_identity_source_names('source_bits') }} as sources
from grouped
