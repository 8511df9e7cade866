{#- Generic data tests for the identity models (no package dependencies). -#}

{% test cdpkit_unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{% test cdpkit_known_identifier_type(model, column_name) %}
    {#- Every value is an identifier type of var cdpkit_identity_types. -#}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and {{ column_name }} not in ({{ cdpkit_sql_string_list(cdpkit_identity_type_names()) }})
{% endtest %}


{% test cdpkit_identity_limits_respected(model) %}
    {#- No customer holds more identifiers of a type than its max_per_customer. -#}
    {%- set limited = [] -%}
    {%- for t in cdpkit_identity_types() if t.max_per_customer is not none -%}{%- do limited.append(t) -%}{%- endfor -%}
    select customer_id, identifier_type, count(*) as n
    from {{ model }}
    group by customer_id, identifier_type
    having
        {%- for t in limited %}
        (identifier_type = {{ cdpkit_sql_string(t.name) }} and count(*) > {{ t.max_per_customer | int }}){{ ' or' if not loop.last }}
        {%- endfor %}
        {%- if not limited %} 1 = 0{% endif %}
{% endtest %}


{% test cdpkit_not_in(model, column_name, other, other_column) %}
    {#- No value of the column appears in `other`.`other_column` (e.g. no retired id is live). -#}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} in (select {{ other_column }} from {{ other }} where {{ other_column }} is not null)
{% endtest %}


{% test cdpkit_expression_true(model, expression) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}
