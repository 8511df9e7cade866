{#- Audit of everything identity resolution refused, one row per blocked identifier or link:
    - block_type identifier, reason empty | junk_value | junk_pattern | invalid_email |
      invalid_phone | blocklisted: a raw value that is not an identifier (identifier_value is
      the value as written);
    - block_type identifier, reason overlinked: an identifier linked to more distinct
      identifiers of linked_identifier_type than its type's max_links (or max_concurrent, at the
      same time) allow; it merges nobody;
    - block_type link, reason overlinked_identifier: each link of such an identifier;
    - block_type link, reason per_customer_limit: a link that would have put more identifiers of
      a type (detail) into one customer than its max_per_customer allows. -#}
{%- set limited = [] -%}
{%- for t in cdpkit_identity_types() if t.max_per_customer is not none -%}{%- do limited.append(t) -%}{%- endfor -%}

with nodes as (
    select * from {{ ref('int_identity_nodes') }}
),

edges as (
    select * from {{ ref('int_identity_edges') }}
),

clusters as (
    select clusters.node_id, clusters.cluster_id, ids.customer_id
    from {{ ref('int_identity_clusters') }} as clusters
    inner join {{ ref('int_identity_customer_ids') }} as ids on ids.cluster_id = clusters.cluster_id
),

rejected as (
    select
        'identifier' as block_type,
        reject_reason as reason,
        identifier_type,
        raw_value as identifier_value,
        cast(null as {{ dbt.type_string() }}) as linked_identifier_type,
        cast(null as {{ dbt.type_string() }}) as linked_identifier_value,
        cast(null as {{ dbt.type_string() }}) as detail,
        sum(row_count) as occurrences
    from {{ ref('int_identifiers_normalized') }}
    where reject_reason is not null
    group by reject_reason, identifier_type, raw_value
),

overlinked as (
    select
        'identifier' as block_type,
        'overlinked' as reason,
        identifier_type,
        identifier_value,
        linked_type as linked_identifier_type,
        cast(null as {{ dbt.type_string() }}) as linked_identifier_value,
        case when rule = 'max_concurrent'
            then 'linked to ' || cast(linked_count as {{ dbt.type_string() }}) || ' ' || linked_type
                || ' values in use at the same time (max_concurrent ' || cast(max_links as {{ dbt.type_string() }}) || ')'
            else 'linked to ' || cast(linked_count as {{ dbt.type_string() }}) || ' ' || linked_type
                || ' values (max_links ' || cast(max_links as {{ dbt.type_string() }}) || ')'
        end as detail,
        cast(null as {{ dbt.type_bigint() }}) as occurrences
    from {{ ref('int_identity_overlinked') }}
),

overlinked_nodes as (
    select distinct node_id from {{ ref('int_identity_overlinked') }}
),

overlinked_links as (
    select
        'link' as block_type,
        'overlinked_identifier' as reason,
        blocked.identifier_type,
        blocked.identifier_value,
        other.identifier_type as linked_identifier_type,
        other.identifier_value as linked_identifier_value,
        cast(null as {{ dbt.type_string() }}) as detail,
        links.row_count as occurrences
    from (
        select node_a as node_id, node_b as other_id, row_count from edges
        union all
        select node_b as node_id, node_a as other_id, row_count from edges
    ) as links
    inner join overlinked_nodes on overlinked_nodes.node_id = links.node_id
    inner join nodes as blocked on blocked.node_id = links.node_id
    inner join nodes as other on other.node_id = links.other_id
),

limit_links as (
    select
        edges.node_a,
        edges.node_b,
        edges.row_count,
        ca.cluster_id as cluster_a,
        cb.cluster_id as cluster_b
    from {{ ref('int_identity_edges_filtered') }} as filtered
    inner join edges on edges.node_a = filtered.node_a and edges.node_b = filtered.node_b
    inner join clusters as ca on ca.node_id = edges.node_a
    inner join clusters as cb on cb.node_id = edges.node_b
    where ca.cluster_id <> cb.cluster_id
),

limit_clusters as (
    select cluster_a as cluster_id from limit_links
    union
    select cluster_b as cluster_id from limit_links
),

cluster_type_counts as (
    select clusters.cluster_id, nodes.identifier_type, count(*) as n
    from limit_clusters
    inner join clusters on clusters.cluster_id = limit_clusters.cluster_id
    inner join nodes on nodes.node_id = clusters.node_id
    group by clusters.cluster_id, nodes.identifier_type
),

limits as (
    {%- for t in limited %}
    select {{ cdpkit_sql_string(t.name) }} as identifier_type, {{ t.max_per_customer | int }} as max_per_customer, {{ t.priority | int }} as priority
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not limited %}
    select cast(null as {{ dbt.type_string() }}) as identifier_type, 0 as max_per_customer, 0 as priority where 1 = 0
    {%- endif %}
),

limit_reasons as (
    select node_a, node_b, identifier_type, max_per_customer
    from (
        select
            limit_links.node_a,
            limit_links.node_b,
            limits.identifier_type,
            limits.max_per_customer,
            row_number() over (
                partition by limit_links.node_a, limit_links.node_b order by limits.priority
            ) as rn
        from limit_links
        inner join limits on 1 = 1
        left join cluster_type_counts as na
            on na.cluster_id = limit_links.cluster_a and na.identifier_type = limits.identifier_type
        left join cluster_type_counts as nb
            on nb.cluster_id = limit_links.cluster_b and nb.identifier_type = limits.identifier_type
        where coalesce(na.n, 0) + coalesce(nb.n, 0) > limits.max_per_customer
    ) as ranked
    where rn = 1
),

limited_links as (
    select
        'link' as block_type,
        'per_customer_limit' as reason,
        a.identifier_type,
        a.identifier_value,
        b.identifier_type as linked_identifier_type,
        b.identifier_value as linked_identifier_value,
        coalesce(
            'would put more than ' || cast(limit_reasons.max_per_customer as {{ dbt.type_string() }})
                || ' ' || limit_reasons.identifier_type || ' in one customer',
            'splits a customer that holds too many identifiers of one type'
        ) as detail,
        limit_links.row_count as occurrences
    from limit_links
    inner join nodes as a on a.node_id = limit_links.node_a
    inner join nodes as b on b.node_id = limit_links.node_b
    left join limit_reasons
        on limit_reasons.node_a = limit_links.node_a and limit_reasons.node_b = limit_links.node_b
),

unioned as (
    select * from rejected
    union all
    select * from overlinked
    union all
    select * from overlinked_links
    union all
    select * from limited_links
)

select
    {{ dbt.hash("block_type || '|' || reason || '|' || identifier_type || '|' || identifier_value || '|' || coalesce(linked_identifier_type, '') || '|' || coalesce(linked_identifier_value, '') || '|' || coalesce(detail, '')") }} as block_id,
    unioned.*
from unioned
