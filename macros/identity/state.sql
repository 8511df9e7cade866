{#- Customer ids are stable across builds. The previous build is read before it is replaced:
      customer_identifiers          identifier -> customer_id of the previous build (the mart
                                    is rebuilt after the ids are decided)
      identity_customer_id_registry every customer_id ever issued, active or merged (+ survivor),
                                    rebuilt from its own previous version each run
    so neither `--full-refresh` nor a rebuild re-keys anyone. Setting var
    cdpkit_identity_reset_ids: true ignores them once, on purpose. -#}

{% macro cdpkit_identity_state_relation(identifier) -%}
    {%- if not execute or var('cdpkit_identity_reset_ids', false) | as_bool -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=identifier)) }}
{%- endmacro %}


{% macro cdpkit_identity_previous_history() -%}
    {#- identifier_type, identifier_value, customer_id of the previous build (or no rows). -#}
    {%- set rel = cdpkit_identity_state_relation('customer_identifiers') -%}
    {%- if rel is not none -%}
        select identifier_type, identifier_value, customer_id from {{ rel }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as identifier_type,
            cast(null as {{ dbt.type_string() }}) as identifier_value,
            cast(null as {{ dbt.type_string() }}) as customer_id
        where 1 = 0
    {%- endif -%}
{%- endmacro %}


{% macro cdpkit_identity_previous_registry() -%}
    {#- The previous registry (or no rows): customer_id, status, merged_into, minted_from,
        first_build, last_build, issued_at, retired_at. -#}
    {%- set rel = cdpkit_identity_state_relation('identity_customer_id_registry') -%}
    {%- if rel is not none -%}
        select customer_id, status, merged_into, minted_from, first_build, last_build, issued_at, retired_at
        from {{ rel }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as {{ dbt.type_string() }}) as merged_into,
            cast(null as {{ dbt.type_string() }}) as minted_from,
            cast(null as {{ dbt.type_bigint() }}) as first_build,
            cast(null as {{ dbt.type_bigint() }}) as last_build,
            cast(null as {{ dbt.type_timestamp() }}) as issued_at,
            cast(null as {{ dbt.type_timestamp() }}) as retired_at
        where 1 = 0
    {%- endif -%}
{%- endmacro %}


{% macro cdpkit_customer_id_hash(text_expr) -%}
    {#- cus_ + 16 hex digits (64 bits) of md5: deterministic, portable (dbt.hash). -#}
    'cus_' || substr({{ dbt.hash(text_expr) }}, 1, 16)
{%- endmacro %}
