{#- Which cluster each customer_id of the previous build lives on in: every identifier votes for
    the id it had in the previous build's customer_identifiers (read before this build replaces
    it; a merged id counts as its survivor); an old id goes to the cluster holding most of its
    identifiers (ties: the smallest cluster_id). One row per old customer_id that still has
    identifiers. -#}

with clusters as (
    select clusters.cluster_id, nodes.identifier_type, nodes.identifier_value
    from {{ ref('int_identity_clusters') }} as clusters
    inner join {{ ref('int_identity_nodes') }} as nodes on nodes.node_id = clusters.node_id
),

previous_history as (
    {{ cdpkit_identity_previous_history() }}
),

previous_registry as (
    {{ cdpkit_identity_previous_registry() }}
),

previous_ids as (
    select
        previous_history.identifier_type,
        previous_history.identifier_value,
        case when previous_registry.status = 'merged' then previous_registry.merged_into
            else previous_history.customer_id end as customer_id
    from previous_history
    left join previous_registry on previous_registry.customer_id = previous_history.customer_id
),

votes as (
    select clusters.cluster_id, previous_ids.customer_id, count(*) as votes
    from clusters
    inner join previous_ids
        on previous_ids.identifier_type = clusters.identifier_type
        and previous_ids.identifier_value = clusters.identifier_value
    group by clusters.cluster_id, previous_ids.customer_id
),

ranked as (
    select
        votes.customer_id,
        votes.cluster_id,
        votes.votes,
        previous_registry.first_build,
        row_number() over (partition by votes.customer_id order by votes.votes desc, votes.cluster_id) as rn
    from votes
    left join previous_registry on previous_registry.customer_id = votes.customer_id
)

select customer_id, cluster_id as home_cluster_id, votes, coalesce(first_build, 0) as first_build
from ranked
where rn = 1
