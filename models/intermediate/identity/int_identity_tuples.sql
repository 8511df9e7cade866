{#- One row per distinct combination of raw identifier values in a source (events with the same
    anonymous_id, user_id, email, phone and device_id form one tuple). Identity only depends on
    which values co-occur, so grouping first shrinks the work by the number of rows per tuple.
    Raw values are kept as written (NULL -> ''); facts join back to their tuple on tuple_key, a
    64-bit hash of those values (macro cdpkit_identity_tuple_key; tested unique). -#}
{%- set types = cdpkit_identity_types() -%}
{%- set sources = cdpkit_identity_sources() -%}

with
{% for s in sources %}
{%- set exprs = cdpkit_identity_raw_exprs(s) %}
{#- Only the columns this source has are grouped; the other types are '' after grouping. -#}
{%- set own = [] %}
{%- for t in types %}{%- if exprs['raw_' ~ t.name] != "''" %}{%- do own.append(t.name) %}{%- endif %}{%- endfor %}
source_{{ s.name }} as (
    select
        {%- for name in own %}
        {{ exprs['raw_' ~ name] }} as raw_{{ name }},
        {%- endfor %}
        {% if s.country %}{{ exprs['country_hint'] }}{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as country_hint,
        cast({{ cdpkit_ident(s.seen_at) }} as {{ dbt.type_timestamp() }}) as seen_at
    from {{ ref(s.model) }}
),

grouped_{{ s.name }} as (
    select
        {%- for name in own %}
        raw_{{ name }},
        {%- endfor %}
        {%- if s.country %}
        country_hint,
        {%- endif %}
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        count(*) as row_count
    from source_{{ s.name }}
    where {% for name in own %}raw_{{ name }} <> ''{{ ' or ' if not loop.last }}{% endfor %}
    group by {% for name in own %}raw_{{ name }}{{ ', ' if not loop.last }}{% endfor %}{% if s.country %}, country_hint{% endif %}
),

tuples_{{ s.name }} as (
    select
        {{ cdpkit_sql_string(s.name) }} as source_name,
        {%- for t in types %}
        {% if t.name in own %}raw_{{ t.name }}{% else %}''{% endif %} as raw_{{ t.name }},
        {%- endfor %}
        {% if s.country %}country_hint{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as country_hint,
        first_seen_at,
        last_seen_at,
        row_count
    from grouped_{{ s.name }}
),
{% endfor %}

unioned as (
    {%- for s in sources %}
    select * from tuples_{{ s.name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    {#- The tuple's id: the key a fact row computes from its own columns (macro
        cdpkit_identity_tuple_key), computed here once per tuple rather than once per row. -#}
    {%- set parts = ['source_name'] %}
    {%- for t in types %}{%- do parts.append('raw_' ~ t.name) %}{%- endfor %}
    {%- do parts.append("coalesce(country_hint, '')") %}
    {{ cdpkit_hash_key(parts) }} as tuple_key,
    unioned.*
from unioned
