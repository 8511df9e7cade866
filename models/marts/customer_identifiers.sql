{#- One row per identifier (type, normalized value) that belongs to a customer, with when and
    where it was seen. Junk, invalid and over-linked values are not identifiers (see
    identity_blocked_links). -#}

with stats as (
    select
        node_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(row_count) as occurrences,
        {{ cdpkit_identity_source_bits('source_name') }} as source_bits
    from {{ ref('int_identity_occurrences') }}
    group by node_id
)

select
    ids.customer_id,
    nodes.identifier_type,
    nodes.identifier_value,
    stats.first_seen_at,
    stats.last_seen_at,
    stats.occurrences,
    {{ cdpkit_identity_source_names('stats.source_bits') }} as sources,
    clusters.is_attached
from {{ ref('int_identity_clusters') }} as clusters
inner join {{ ref('int_identity_nodes') }} as nodes on nodes.node_id = clusters.node_id
inner join {{ ref('int_identity_customer_ids') }} as ids on ids.cluster_id = clusters.cluster_id
inner join stats on stats.node_id = clusters.node_id
