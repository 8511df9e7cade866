{#- One row per distinct raw identifier value (and, for phones, the row's country): its
    normalized value and node id, or the reason it is not an identifier (empty, junk, invalid,
    blocklisted).
    Normalizing distinct values only keeps the regex work proportional to distinct values. -#}
{%- set types = cdpkit_identity_types() -%}
{%- set junk_values = var('cdpkit_identity_junk_values', []) -%}
{%- set junk_patterns = var('cdpkit_identity_junk_patterns', []) -%}
{%- set blocklist = var('cdpkit_identity_blocklist', {}) or {} -%}
{%- set phone_types = types | selectattr('normalize', 'equalto', 'phone') | map(attribute='name') | list -%}
{%- for type_name in blocklist -%}
    {%- if type_name not in cdpkit_identity_type_names() -%}
        {{ exceptions.raise_compiler_error("var cdpkit_identity_blocklist: '" ~ type_name ~ "' is not an identifier type of var cdpkit_identity_types") }}
    {%- endif -%}
{%- endfor -%}

with tuples as (
    select * from {{ ref('int_identity_tuples') }}
),

unpivoted as (
    {%- for t in types %}
    select
        {{ cdpkit_sql_string(t.name) }} as identifier_type,
        raw_{{ t.name }} as raw_value,
        {% if t.normalize == 'phone' %}country_hint{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as country_hint,
        row_count
    from tuples
    where raw_{{ t.name }} <> ''
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

distinct_values as (
    select identifier_type, raw_value, country_hint, sum(row_count) as row_count
    from unpivoted
    group by identifier_type, raw_value, country_hint
),

trimmed_values as (
    select distinct_values.*, {{ cdpkit_trim('raw_value') }} as trimmed
    from distinct_values
),

prepared as (
    select
        identifier_type,
        raw_value,
        country_hint,
        row_count,
        trimmed,
        lower(trimmed) as lowered,
        {%- if phone_types %}
        case when identifier_type in ({{ cdpkit_sql_string_list(phone_types) }})
            then {{ cdpkit_regexp_replace_all('raw_value', '[^0-9]', '') }} end as digits
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as digits
        {%- endif %}
    from trimmed_values
),

candidates as (
    select
        prepared.*,
        case identifier_type
            {%- for t in types %}
            when {{ cdpkit_sql_string(t.name) }} then
                {%- if t.normalize == 'email' %} {{ cdpkit_normalize_email('trimmed') }}
                {%- elif t.normalize == 'phone' %} {{ cdpkit_normalize_phone('trimmed', 'digits', 'country_hint') }}
                {%- else %} {{ cdpkit_normalize_id('trimmed') }}
                {%- endif %}
            {%- endfor %}
        end as candidate
    from prepared
),

judged as (
    select
        identifier_type,
        raw_value,
        country_hint,
        row_count,
        candidate,
        case
            when trimmed = '' then 'empty'
            {%- if junk_values %}
            when lowered in ({{ cdpkit_sql_string_list(junk_values | map('lower') | list) }}) then 'junk_value'
            {%- endif %}
            {%- for p in junk_patterns %}
            when {{ cdpkit_regexp_like('lowered', p) }} then 'junk_pattern'
            {%- endfor %}
            {%- for t in types %}
            {%- if t.normalize == 'email' %}
            when identifier_type = {{ cdpkit_sql_string(t.name) }} and candidate is null then 'invalid_email'
            {%- elif t.normalize == 'phone' %}
            when identifier_type = {{ cdpkit_sql_string(t.name) }} and not {{ cdpkit_valid_e164('candidate') }} then 'invalid_phone'
            {%- endif %}
            {%- endfor %}
            {%- if junk_values %}
            when lower(candidate) in ({{ cdpkit_sql_string_list(junk_values | map('lower') | list) }}) then 'junk_value'
            {%- endif %}
            {%- for type_name, values in blocklist.items() if values %}
            when identifier_type = {{ cdpkit_sql_string(type_name) }}
                and candidate in ({{ cdpkit_sql_string_list(values) }}) then 'blocklisted'
            {%- endfor %}
        end as reject_reason
    from candidates
)

select
    {#- What int_identity_occurrences joins on (one integer instead of three strings). #}
    {{ cdpkit_hash_key(['identifier_type', 'raw_value', "coalesce(country_hint, '')"]) }} as raw_key,
    identifier_type,
    raw_value,
    country_hint,
    case when reject_reason is null then candidate end as identifier_value,
    case when reject_reason is null
        then {{ cdpkit_node_id("identifier_type || ':' || candidate") }} end as node_id,
    reject_reason,
    row_count
from judged
