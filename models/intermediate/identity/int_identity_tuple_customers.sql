{#- The customer of each tuple (a distinct identifier combination of a source row): the customer
    of its strongest identifier (lowest priority number, then smallest node id). When links in
    the row were blocked its identifiers can sit in different customers; the strongest decides.
    Tuples whose identifiers were all rejected or over-linked have no customer. -#}
{%- set types = cdpkit_identity_types() -%}

with priorities as (
    {%- for t in types %}
    select {{ cdpkit_sql_string(t.name) }} as identifier_type, {{ t.priority | int }} as priority
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

ranked as (
    select
        occurrences.tuple_key,
        clusters.cluster_id,
        row_number() over (
            partition by occurrences.tuple_key
            order by priorities.priority, occurrences.node_id
        ) as rn
    from {{ ref('int_identity_occurrences') }} as occurrences
    inner join priorities on priorities.identifier_type = occurrences.identifier_type
    inner join {{ ref('int_identity_clusters') }} as clusters on clusters.node_id = occurrences.node_id
)

select ranked.tuple_key, ids.customer_id
from ranked
inner join {{ ref('int_identity_customer_ids') }} as ids on ids.cluster_id = ranked.cluster_id
where ranked.rn = 1
