{#- Identity configuration read from the `cdpkit_identity_*` vars, validated once, so every
    identity model generates its SQL from the same checked settings. -#}

{% macro cdpkit_identity_types() -%}
    {#- The identifier types as a list of dicts (name, normalize, priority, max_per_customer,
        max_links, max_concurrent), strongest priority first. -#}
    {%- set raw = var('cdpkit_identity_types') -%}
    {%- if raw is not mapping or raw | length == 0 -%}
        {{ exceptions.raise_compiler_error("var cdpkit_identity_types must be a non-empty mapping of identifier type -> settings") }}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for name, cfg in raw.items() -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_types: type name '" ~ name ~ "' must be lower_snake_case") }}
        {%- endif -%}
        {%- set cfg = cfg or {} -%}
        {%- for key in cfg -%}
            {%- if key not in ['normalize', 'priority', 'max_per_customer', 'max_links', 'max_concurrent'] -%}
                {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ ": unknown setting '" ~ key ~ "' (known: normalize, priority, max_per_customer, max_links, max_concurrent)") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set normalize = cfg.get('normalize', 'id') -%}
        {%- if normalize not in ['email', 'phone', 'id'] -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ ".normalize must be email, phone or id, got '" ~ normalize ~ "'") }}
        {%- endif -%}
        {%- set limit = cfg.get('max_per_customer') -%}
        {%- if limit is not none and (limit is not number or limit < 1) -%}
            {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ ".max_per_customer must be a positive integer or null, got '" ~ limit ~ "'") }}
        {%- endif -%}
        {%- for key in ['max_links', 'max_concurrent'] -%}
            {%- set caps = cfg.get(key) or {} -%}
            {%- if caps is not mapping -%}
                {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ "." ~ key ~ " must map linked identifier types to a positive integer, e.g. {user_id: 1}") }}
            {%- endif -%}
            {%- for linked, n in caps.items() -%}
                {%- if linked not in raw -%}
                    {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ "." ~ key ~ ": '" ~ linked ~ "' is not an identifier type (known: " ~ raw.keys() | join(', ') ~ ")") }}
                {%- endif -%}
                {%- if n is not number or n < 1 -%}
                    {{ exceptions.raise_compiler_error("var cdpkit_identity_types." ~ name ~ "." ~ key ~ "." ~ linked ~ " must be a positive integer, got '" ~ n ~ "'") }}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do out.append({
            'name': name,
            'normalize': normalize,
            'priority': cfg.get('priority', 100 + loop.index) | int,
            'max_per_customer': limit,
            'max_links': cfg.get('max_links') or {},
            'max_concurrent': cfg.get('max_concurrent') or {},
        }) -%}
    {%- endfor -%}
    {{ return(out | sort(attribute='priority')) }}
{%- endmacro %}


{% macro cdpkit_identity_type_names() -%}
    {%- set names = [] -%}
    {%- for t in cdpkit_identity_types() -%}{%- do names.append(t.name) -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{% macro cdpkit_identity_sources() -%}
    {#- The sources as a list of dicts (name, model, seen_at, country, identifiers: {type: column},
        identifier_type_column, identifier_column), in the order written. -#}
    {%- set raw = var('cdpkit_identity_sources') -%}
    {%- set known_types = cdpkit_identity_type_names() -%}
    {%- if raw is not mapping or raw | length == 0 -%}
        {{ exceptions.raise_compiler_error("var cdpkit_identity_sources must be a non-empty mapping of source name -> settings") }}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for name, cfg in raw.items() -%}
        {%- set where = "var cdpkit_identity_sources." ~ name -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
            {{ exceptions.raise_compiler_error(where ~ ": source name must be lower_snake_case") }}
        {%- endif -%}
        {%- for key in cfg -%}
            {%- if key not in ['model', 'seen_at', 'country', 'identifiers', 'identifier_type_column', 'identifier_column'] -%}
                {{ exceptions.raise_compiler_error(where ~ ": unknown setting '" ~ key ~ "' (known: model, seen_at, country, identifiers, identifier_type_column, identifier_column)") }}
            {%- endif -%}
        {%- endfor -%}
        {%- for key in ['model', 'seen_at'] -%}
            {%- if not cfg.get(key) -%}
                {{ exceptions.raise_compiler_error(where ~ ": '" ~ key ~ "' is required") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set identifiers = cfg.get('identifiers') or {} -%}
        {%- set long_form = cfg.get('identifier_type_column') or cfg.get('identifier_column') -%}
        {%- if long_form and identifiers -%}
            {{ exceptions.raise_compiler_error(where ~ ": use either 'identifiers' or 'identifier_type_column' + 'identifier_column', not both") }}
        {%- endif -%}
        {%- if long_form and not (cfg.get('identifier_type_column') and cfg.get('identifier_column')) -%}
            {{ exceptions.raise_compiler_error(where ~ ": 'identifier_type_column' and 'identifier_column' go together") }}
        {%- endif -%}
        {%- if not long_form and not identifiers -%}
            {{ exceptions.raise_compiler_error(where ~ ": 'identifiers' (type: column) is required") }}
        {%- endif -%}
        {%- for type_name in identifiers -%}
            {%- if type_name not in known_types -%}
                {{ exceptions.raise_compiler_error(where ~ ".identifiers: '" ~ type_name ~ "' is not an identifier type of var cdpkit_identity_types (known: " ~ known_types | join(', ') ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
        {%- do out.append({
            'name': name,
            'model': cfg['model'],
            'seen_at': cfg['seen_at'],
            'country': cfg.get('country'),
            'identifiers': identifiers,
            'identifier_type_column': cfg.get('identifier_type_column'),
            'identifier_column': cfg.get('identifier_column'),
        }) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{% macro cdpkit_identity_source(name) -%}
    {%- for s in cdpkit_identity_sources() -%}
        {%- if s.name == name -%}{{ return(s) }}{%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("var cdpkit_identity_sources has no source '" ~ name ~ "' (a mart needs it)") }}
{%- endmacro %}


{% macro cdpkit_sql_string(value) -%}
    {#- A SQL string literal with quotes escaped (values from vars are data, not SQL). -#}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{% macro cdpkit_sql_string_list(values) -%}
    {%- for v in values -%}{{ cdpkit_sql_string(v) }}{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}


{% macro cdpkit_ident(name) -%}
    {#- A column name from a var, quoted for the adapter. -#}
    {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name | string) -%}
        {{ exceptions.raise_compiler_error("identity config: '" ~ name ~ "' is not a plain column name") }}
    {%- endif -%}
    {{ adapter.quote(name) }}
{%- endmacro %}


{% macro cdpkit_identity_raw_exprs(source, alias=none) -%}
    {#- {raw_<type>: expr, country_hint: expr} for one source row: the raw identifier values
        exactly as int_identity_tuples groups them, so a fact row joins back to its tuple. -#}
    {%- set p = (alias ~ '.') if alias else '' -%}
    {%- set out = {} -%}
    {%- for t in cdpkit_identity_types() -%}
        {%- if source.identifier_type_column -%}
            {%- do out.update({'raw_' ~ t.name: "coalesce(case when lower(trim(cast(" ~ p ~ cdpkit_ident(source.identifier_type_column) ~ " as " ~ dbt.type_string() ~ "))) = " ~ cdpkit_sql_string(t.name) ~ " then cast(" ~ p ~ cdpkit_ident(source.identifier_column) ~ " as " ~ dbt.type_string() ~ ") end, '')"}) -%}
        {%- elif t.name in source.identifiers -%}
            {%- do out.update({'raw_' ~ t.name: "coalesce(cast(" ~ p ~ cdpkit_ident(source.identifiers[t.name]) ~ " as " ~ dbt.type_string() ~ "), '')"}) -%}
        {%- else -%}
            {%- do out.update({'raw_' ~ t.name: "''"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if source.country -%}
        {%- do out.update({'country_hint': "upper(trim(cast(" ~ p ~ cdpkit_ident(source.country) ~ " as " ~ dbt.type_string() ~ ")))"}) -%}
    {%- else -%}
        {%- do out.update({'country_hint': "cast(null as " ~ dbt.type_string() ~ ")"}) -%}
    {%- endif -%}
    {{ return(out) }}
{%- endmacro %}


{% macro cdpkit_identity_caps_sql(rows) -%}
    {#- (identifier_type, linked_type, max_links) rows as a union of selects. -#}
    {%- for c in rows %}
    select {{ cdpkit_sql_string(c.type) }} as identifier_type, {{ cdpkit_sql_string(c.linked) }} as linked_type, {{ c.n }} as max_links
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not rows %}
    select cast(null as {{ dbt.type_string() }}) as identifier_type, cast(null as {{ dbt.type_string() }}) as linked_type, 0 as max_links where 1 = 0
    {%- endif %}
{%- endmacro %}


{% macro cdpkit_hash_key(exprs) -%}
    {#- A 64-bit key of several text expressions (joins facts to their identity tuple on one
        integer instead of every identifier column). int_identity_tuples tests it unique. -#}
    {{ return(adapter.dispatch('cdpkit_hash_key', 'cdpkit')(exprs)) }}
{%- endmacro %}

{% macro default__cdpkit_hash_key(exprs) -%}
    {{ dbt.hash(exprs | join(" || '|' || ")) }}
{%- endmacro %}

{% macro duckdb__cdpkit_hash_key(exprs) -%}
    hash({{ exprs | join(', ') }})
{%- endmacro %}

{% macro postgres__cdpkit_hash_key(exprs) -%}
    hashtextextended({{ exprs | join(" || chr(31) || ") }}, 0)
{%- endmacro %}


{% macro cdpkit_identity_tuple_key(source_name, row_alias=none) -%}
    {#- The tuple key of a source row, as int_identity_tuples computes it. -#}
    {%- set source = cdpkit_identity_source(source_name) -%}
    {%- set exprs = cdpkit_identity_raw_exprs(source, row_alias) -%}
    {%- set parts = [cdpkit_sql_string(source_name)] -%}
    {%- for t in cdpkit_identity_types() -%}{%- do parts.append(exprs['raw_' ~ t.name]) -%}{%- endfor -%}
    {%- do parts.append("coalesce(" ~ exprs['country_hint'] ~ ", '')") -%}
    {{ cdpkit_hash_key(parts) }}
{%- endmacro %}


{% macro cdpkit_identity_source_bits(source_column) -%}
    {#- An aggregate: the sources seen in a group as a bit set (bit i = the i-th configured
        source in alphabetical order); cdpkit_identity_source_names turns it into text once per
        group (cheaper than one conditional aggregate per source, and than a string_agg). -#}
    {%- set names = cdpkit_identity_sources() | map(attribute='name') | sort -%}
    {%- set cases = [] -%}
    {%- for name in names -%}
        {%- do cases.append('when ' ~ cdpkit_sql_string(name) ~ ' then ' ~ (2 ** loop.index0)) -%}
    {%- endfor -%}
    {{ adapter.dispatch('cdpkit_bit_or', 'cdpkit')('case ' ~ source_column ~ ' ' ~ cases | join(' ') ~ ' else 0 end') }}
{%- endmacro %}


{% macro cdpkit_identity_source_names(bits_expr) -%}
    {#- The sources of a cdpkit_identity_source_bits bit set: alphabetical, comma-separated. -#}
    {%- set names = cdpkit_identity_sources() | map(attribute='name') | sort -%}
    substr(
        {%- for name in names %}
        case when ({{ bits_expr }} & {{ 2 ** loop.index0 }}) <> 0
            then {{ cdpkit_sql_string(', ' ~ name) }} else '' end{{ ' ||' if not loop.last }}
        {%- endfor %},
        3
    )
{%- endmacro %}


{% macro default__cdpkit_bit_or(expr) -%}
    bit_or({{ expr }})
{%- endmacro %}


{% macro cdpkit_any_value(expr) -%}
    {#- An aggregate: any value of a group whose rows all hold the same value. -#}
    {{ return(adapter.dispatch('cdpkit_any_value', 'cdpkit')(expr)) }}
{%- endmacro %}

{% macro default__cdpkit_any_value(expr) -%}
    min({{ expr }})
{%- endmacro %}

{% macro duckdb__cdpkit_any_value(expr) -%}
    any_value({{ expr }})
{%- endmacro %}


{% macro cdpkit_node_id(text_expr) -%}
    {#- A node id for an identifier ("type:value"): the first 60 bits of its md5 as a positive
        integer, the same number on every engine and version, assigned without a global sort.
        int_identity_nodes tests them unique (a collision fails the build rather than merge two
        identifiers; about 1 in 100,000 at 5 million identifiers). -#}
    {{ return(adapter.dispatch('cdpkit_node_id', 'cdpkit')(text_expr)) }}
{%- endmacro %}

{% macro default__cdpkit_node_id(text_expr) -%}
    {{ dbt.hash(text_expr) }}
{%- endmacro %}

{% macro duckdb__cdpkit_node_id(text_expr) -%}
    cast('0x' || substr(md5({{ text_expr }}), 1, 15) as bigint)
{%- endmacro %}

{% macro postgres__cdpkit_node_id(text_expr) -%}
    cast(cast('x' || substr(md5({{ text_expr }}), 1, 15) as bit(60)) as bigint)
{%- endmacro %}
