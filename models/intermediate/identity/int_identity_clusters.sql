{#- One row per identifier of a customer: the clusters of int_identity_clusters_linked, plus
    over-linked identifiers whose links all lead to one single cluster (a phone reinstalled
    twice by the same person: both its app installs ended up in one customer anyway). Attaching
    cannot merge anyone; it is skipped when it would break the type's max_per_customer. -#}
{%- set limited = [] -%}
{%- for t in cdpkit_identity_types() if t.max_per_customer is not none -%}{%- do limited.append(t) -%}{%- endfor -%}

with linked as (
    select node_id, component_id, cluster_id
    from {{ ref('int_identity_clusters_linked') }}
),

overlinked as (
    select distinct node_id from {{ ref('int_identity_overlinked') }}
),

nodes as (
    select node_id, identifier_type from {{ ref('int_identity_nodes') }}
),

neighbour_clusters as (
    select overlinked.node_id, linked.cluster_id
    from overlinked
    inner join (
        select node_a as node_id, node_b as other_id from {{ ref('int_identity_edges') }}
        union all
        select node_b as node_id, node_a as other_id from {{ ref('int_identity_edges') }}
    ) as links on links.node_id = overlinked.node_id
    inner join linked on linked.node_id = links.other_id
),

single_cluster as (
    select node_id, min(cluster_id) as cluster_id
    from neighbour_clusters
    group by node_id
    having count(distinct cluster_id) = 1
),

limits as (
    {%- for t in limited %}
    select {{ cdpkit_sql_string(t.name) }} as identifier_type, {{ t.max_per_customer | int }} as max_per_customer
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not limited %}
    select cast(null as {{ dbt.type_string() }}) as identifier_type, 0 as max_per_customer where 1 = 0
    {%- endif %}
),

{#- Counted only for the clusters that receive an attachment (a few of them). -#}
held as (
    select linked.cluster_id, nodes.identifier_type, count(*) as n
    from linked
    inner join nodes on nodes.node_id = linked.node_id
    where linked.cluster_id in (select cluster_id from single_cluster)
    group by linked.cluster_id, nodes.identifier_type
),

candidates as (
    select
        single_cluster.node_id,
        single_cluster.cluster_id,
        coalesce(held.n, 0) + row_number() over (
            partition by single_cluster.cluster_id, nodes.identifier_type order by single_cluster.node_id
        ) as would_hold,
        limits.max_per_customer
    from single_cluster
    inner join nodes on nodes.node_id = single_cluster.node_id
    left join held
        on held.cluster_id = single_cluster.cluster_id and held.identifier_type = nodes.identifier_type
    left join limits on limits.identifier_type = nodes.identifier_type
)

select node_id, component_id, cluster_id, false as is_attached
from linked
union all
select node_id, nullif(node_id, node_id) as component_id, cluster_id, true as is_attached
from candidates
where max_per_customer is null or would_hold <= max_per_customer
