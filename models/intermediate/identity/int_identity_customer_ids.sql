{#- One customer_id per cluster, stable across builds (the survive / mint rules):
    - an old id survives in at most one cluster, its home (int_identity_id_votes);
    - a cluster keeps at most one old id: the oldest (first issued build; ties: the smallest
      id); the others are retired into it (int_identity_retired_ids);
    - a cluster with no surviving id mints cus_ + md5 of its representative identifier "type:value"
      (the one with the smallest node id, i.e. md5 order: deterministic).
      Should that id have been issued before, it comes back only if it is still active and no
      cluster kept it (a customer whose identifiers vanished from the data and came back);
      otherwise the build number salts it: a retired id is never reused. -#}

with clusters as (
    select clusters.cluster_id, nodes.identifier_type, nodes.identifier_value
    from {{ ref('int_identity_clusters') }} as clusters
    inner join {{ ref('int_identity_nodes') }} as nodes on nodes.node_id = clusters.node_id
    where clusters.node_id = clusters.cluster_id
),

previous_registry as (
    {{ cdpkit_identity_previous_registry() }}
),

this_build as (
    select coalesce(max(last_build), 0) + 1 as build_number from previous_registry
),

kept as (
    select cluster_id, customer_id
    from (
        select home_cluster_id as cluster_id, customer_id,
            row_number() over (partition by home_cluster_id order by first_build, customer_id) as rn
        from {{ ref('int_identity_id_votes') }}
    ) as ranked
    where rn = 1
),

candidates as (
    select
        clusters.cluster_id,
        clusters.identifier_type || ':' || clusters.identifier_value as minted_from,
        kept.customer_id as kept_id,
        {{ cdpkit_customer_id_hash("clusters.identifier_type || ':' || clusters.identifier_value") }} as candidate
    from clusters
    left join kept on kept.cluster_id = clusters.cluster_id
)

select
    candidates.cluster_id,
    coalesce(
        candidates.kept_id,
        case
            when previous_registry.customer_id is null then candidates.candidate
            when previous_registry.status = 'active' and kept_anywhere.customer_id is null
                then candidates.candidate
            else {{ cdpkit_customer_id_hash("candidates.minted_from || '#' || cast(this_build.build_number as " ~ dbt.type_string() ~ ")") }}
        end
    ) as customer_id,
    case
        when candidates.kept_id is not null then 'kept'
        when previous_registry.customer_id is not null and previous_registry.status = 'active'
            and kept_anywhere.customer_id is null then 'revived'
        else 'minted'
    end as id_origin,
    candidates.minted_from,
    this_build.build_number
from candidates
cross join this_build
left join previous_registry
    on previous_registry.customer_id = candidates.candidate
    and candidates.kept_id is null
left join kept as kept_anywhere
    on kept_anywhere.customer_id = candidates.candidate
    and candidates.kept_id is null
