{#- One row per valid identifier in a tuple: (tuple, node) with when and how often the tuple was
    seen. Pairs of nodes in one tuple are the edges of the identity graph. -#}
{%- set types = cdpkit_identity_types() -%}

with tuples as (
    select * from {{ ref('int_identity_tuples') }}
),

normalized as (
    select raw_key, node_id
    from {{ ref('int_identifiers_normalized') }}
    where node_id is not null
),

unpivoted as (
    {%- for t in types %}
    select
        tuple_key,
        source_name,
        {{ cdpkit_sql_string(t.name) }} as identifier_type,
        {{ cdpkit_hash_key([cdpkit_sql_string(t.name), 'raw_' ~ t.name, "coalesce(country_hint, '')" if t.normalize == 'phone' else "''"]) }} as raw_key,
        first_seen_at,
        last_seen_at,
        row_count
    from tuples
    where raw_{{ t.name }} <> ''
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    unpivoted.tuple_key,
    unpivoted.source_name,
    normalized.node_id,
    unpivoted.identifier_type,
    unpivoted.first_seen_at,
    unpivoted.last_seen_at,
    unpivoted.row_count
from unpivoted
inner join normalized on normalized.raw_key = unpivoted.raw_key
