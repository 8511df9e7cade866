{#- Identifier normalization in portable SQL (DuckDB, PostgreSQL; Snowflake, BigQuery and
    Databricks through the dispatched regex helpers). Every macro returns an expression.

    email : trim + lower-case, then a syntax check (local@domain.tld, ASCII); invalid -> null.
    phone : E.164 ('+' and 8-15 digits). '+' or '00' prefix = international as written; anything
            else is a national number read in the row's country (when the source has a country
            column and the country is in var cdpkit_identity_phone_countries) or else in
            var cdpkit_identity_phone_default_country: a trunk prefix is dropped, the calling code
            added. A national number that does not fit that country's lengths is not guessed
            (null), e.g. the GB number `020 7946 0958` read with default country US.
    id    : trim; case is kept (ids are case-sensitive in most systems).
-#}

{% macro cdpkit_regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('cdpkit_regexp_replace_all', 'cdpkit')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__cdpkit_regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ cdpkit_sql_string(pattern) }}, {{ cdpkit_sql_string(replacement) }})
{%- endmacro %}

{% macro duckdb__cdpkit_regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ cdpkit_sql_string(pattern) }}, {{ cdpkit_sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro postgres__cdpkit_regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ cdpkit_sql_string(pattern) }}, {{ cdpkit_sql_string(replacement) }}, 'g')
{%- endmacro %}


{% macro cdpkit_regexp_like(expr, pattern) -%}
    {#- True when `expr` matches `pattern`; write patterns anchored (^…$), as some engines
        (Snowflake's REGEXP_LIKE) always match the whole value. -#}
    {{ return(adapter.dispatch('cdpkit_regexp_like', 'cdpkit')(expr, pattern)) }}
{%- endmacro %}

{% macro default__cdpkit_regexp_like(expr, pattern) -%}
    regexp_like({{ expr }}, {{ cdpkit_sql_string(pattern) }})
{%- endmacro %}

{% macro duckdb__cdpkit_regexp_like(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ cdpkit_sql_string(pattern) }})
{%- endmacro %}

{% macro postgres__cdpkit_regexp_like(expr, pattern) -%}
    ({{ expr }} ~ {{ cdpkit_sql_string(pattern) }})
{%- endmacro %}

{% macro bigquery__cdpkit_regexp_like(expr, pattern) -%}
    regexp_contains({{ expr }}, {{ cdpkit_sql_string(pattern) }})
{%- endmacro %}

{% macro databricks__cdpkit_regexp_like(expr, pattern) -%}
    ({{ expr }} rlike {{ cdpkit_sql_string(pattern) }})
{%- endmacro %}


{% macro cdpkit_trim(expr) -%}
    {#- Strip spaces, tabs and line breaks at both ends (plain trim() strips spaces only, and
        identifiers pasted from spreadsheets carry tabs and line breaks). -#}
    {{ return(adapter.dispatch('cdpkit_trim', 'cdpkit')(expr)) }}
{%- endmacro %}

{% macro default__cdpkit_trim(expr) -%}
    {{ cdpkit_regexp_replace_all(expr, '^[[:space:]]+|[[:space:]]+$', '') }}
{%- endmacro %}

{% macro duckdb__cdpkit_trim(expr) -%}
    trim({{ expr }}, ' ' || chr(9) || chr(10) || chr(13))
{%- endmacro %}

{% macro postgres__cdpkit_trim(expr) -%}
    btrim({{ expr }}, ' ' || chr(9) || chr(10) || chr(13))
{%- endmacro %}


{% macro cdpkit_email_pattern() -%}
    {{ return("^[a-z0-9!#$%&*+/=?^_`{|}~-]+(\\.[a-z0-9!#$%&*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$") }}
{%- endmacro %}


{% macro cdpkit_normalize_email(trimmed) -%}
    {#- `trimmed` = trim(raw). Lower-cased if it is a syntactically valid address, else null. -#}
    case when {{ cdpkit_regexp_like('lower(' ~ trimmed ~ ')', cdpkit_email_pattern()) }}
        then lower({{ trimmed }}) end
{%- endmacro %}


{% macro cdpkit_normalize_id(trimmed) -%}
    {{ trimmed }}
{%- endmacro %}


{% macro _cdpkit_phone_national(digits, country) -%}
    {#- E.164 of a national-format number (digits only) in one country of the phone table. -#}
    {%- set cc = country.calling_code | string -%}
    {%- set trunk = country.get('trunk_prefix') -%}
    {%- set lengths = country.national_lengths -%}
    case
        {%- if trunk %}
        when {{ digits }} like '{{ trunk }}%'
            and length({{ digits }}) - {{ trunk | string | length }} in ({{ lengths | join(', ') }})
            then '+{{ cc }}' || substr({{ digits }}, {{ (trunk | string | length) + 1 }})
        {%- endif %}
        when {{ digits }} like '{{ cc }}%'
            and length({{ digits }}) - {{ cc | length }} in ({{ lengths | join(', ') }})
            then '+' || {{ digits }}
        when length({{ digits }}) in ({{ lengths | join(', ') }})
            {%- if trunk %} and {{ digits }} not like '{{ trunk }}%'{% endif %}
            then '+{{ cc }}' || {{ digits }}
    end
{%- endmacro %}


{% macro cdpkit_phone_countries() -%}
    {%- set table = var('cdpkit_identity_phone_countries') -%}
    {%- for code, c in table.items() -%}
        {%- if not modules.re.match('^[A-Z]{2}$', code) -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_countries: '" ~ code ~ "' is not an ISO 3166 alpha-2 code (e.g. US)") }}
        {%- endif -%}
        {%- if not modules.re.match('^[1-9][0-9]{0,2}$', c.get('calling_code', '') | string) -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_countries." ~ code ~ ".calling_code must be 1-3 digits, e.g. \"44\"") }}
        {%- endif -%}
        {%- if c.get('trunk_prefix') is not none and not modules.re.match('^[0-9]{1,2}$', c.get('trunk_prefix') | string) -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_countries." ~ code ~ ".trunk_prefix must be digits or null") }}
        {%- endif -%}
        {%- set lengths = c.get('national_lengths') -%}
        {%- if lengths is string or lengths is not iterable or lengths | length == 0 -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_countries." ~ code ~ ".national_lengths must be a list of digit counts, e.g. [10]") }}
        {%- endif -%}
        {%- for n in lengths -%}
            {%- if n is not number -%}
                {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_countries." ~ code ~ ".national_lengths must hold numbers") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set default = var('cdpkit_identity_phone_default_country') -%}
    {%- if default not in table -%}
        {{ exceptions.raise_compiler_error("var cdpkit_identity_phone_default_country '" ~ default ~ "' is not in var cdpkit_identity_phone_countries (known: " ~ table.keys() | sort | join(', ') ~ ")") }}
    {%- endif -%}
    {{ return(table) }}
{%- endmacro %}


{% macro cdpkit_normalize_phone(trimmed, digits, country=none) -%}
    {#- `trimmed` = trim(raw), `digits` = its digits only, `country` = an ISO country expression
        or none. Returns E.164 text or null. -#}
    {%- set table = cdpkit_phone_countries() -%}
    {%- set default = var('cdpkit_identity_phone_default_country') -%}
    case
        when {{ digits }} = '' then null
        when {{ trimmed }} like '+%' then '+' || {{ digits }}
        when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
        {%- if country is not none %}
        {%- for code, c in table.items() if code != default %}
        when {{ country }} = '{{ code }}' then {{ _cdpkit_phone_national(digits, c) }}
        {%- endfor %}
        {%- endif %}
        else {{ _cdpkit_phone_national(digits, table[default]) }}
    end
{%- endmacro %}


{% macro cdpkit_valid_e164(e164) -%}
    {#- '+' and 8-15 digits, not a run of one repeated digit (0000000000, 5555555555). -#}
    ({{ e164 }} is not null
        and length({{ e164 }}) between 9 and 16
        and replace(substr({{ e164 }}, length({{ e164 }}) - 6), substr({{ e164 }}, length({{ e164 }}), 1), '') <> '')
{%- endmacro %}
