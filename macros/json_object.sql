{#- A JSON object as text from {key: column expression}: portable per adapter. -#}
{% macro cdpkit_json_object(pairs) -%}
    {{ return(adapter.dispatch('cdpkit_json_object', 'cdpkit')(pairs)) }}
{%- endmacro %}

{% macro default__cdpkit_json_object(pairs) -%}
    cast(json_build_object(
        {%- for key, value in pairs.items() %}'{{ key }}', {{ value }}{{ ', ' if not loop.last }}{% endfor -%}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__cdpkit_json_object(pairs) -%}
    cast(json_object(
        {%- for key, value in pairs.items() %}'{{ key }}', {{ value }}{{ ', ' if not loop.last }}{% endfor -%}
    ) as {{ dbt.type_string() }})
{%- endmacro %}
