{#- One row per customer: the golden record. Survivorship (documented in _marts__models.yml):
    - email / phone: the customer's email / phone identifier seen most recently (ties: the most
      occurrences, then the smallest value);
    - first_name, last_name, city, country, lifecycle_stage: the customer's most recently
      updated CRM contact; without one, lifecycle_stage is derived: customer (a completed
      order), lead (an email, phone, user_id, CRM or loyalty id), visitor (anonymous only);
    - order figures: completed orders only (net of refunds and cancellations);
    - consent_<purpose>: the latest consent record for that purpose over all the customer's
      identifiers (ties: a refusal wins); no record = false. -#}
{%- set type_names = cdpkit_identity_type_names() -%}
{%- set anonymous_types = var('cdpkit_identity_anonymous_types', []) -%}

with identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

per_customer as (
    select
        customer_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        sum(case when identifier_type not in ({{ cdpkit_sql_string_list(anonymous_types) if anonymous_types else "''" }}) then 1 else 0 end) as known_identifier_count
    from identifiers
    group by customer_id
),

{%- for kind in ['email', 'phone'] %}

best_{{ kind }} as (
    {%- if kind in type_names %}
    select customer_id, identifier_value as {{ kind }}
    from (
        select customer_id, identifier_value,
            row_number() over (
                partition by customer_id
                order by last_seen_at desc, occurrences desc, identifier_value
            ) as rn
        from identifiers
        where identifier_type = {{ cdpkit_sql_string(kind) }}
    ) as ranked
    where rn = 1
    {%- else %}
    select customer_id, cast(null as {{ dbt.type_string() }}) as {{ kind }} from per_customer where 1 = 0
    {%- endif %}
),
{%- endfor %}

crm as (
    select customer_id, first_name, last_name, city, country, lifecycle_stage
    from (
        select
            tuple_customers.customer_id,
            contacts.first_name,
            contacts.last_name,
            contacts.city,
            contacts.country,
            contacts.lifecycle_stage,
            row_number() over (
                partition by tuple_customers.customer_id
                order by contacts.updated_at desc, contacts.created_at desc, contacts.crm_id
            ) as rn
        from {{ ref('stg_raw__crm_contacts') }} as contacts
        inner join {{ ref('int_identity_tuple_customers') }} as tuple_customers
            on tuple_customers.tuple_key = {{ cdpkit_identity_tuple_key('crm_contacts', 'contacts') }}
    ) as ranked
    where rn = 1
),

orders as (
    select
        customer_id,
        sum(case when status = 'completed' then 1 else 0 end) as order_count,
        sum(net_amount) as total_revenue,
        min(case when status = 'completed' then ordered_at end) as first_order_at,
        max(case when status = 'completed' then ordered_at end) as last_order_at,
        sum(case when status = 'refunded' then 1 else 0 end) as refunded_order_count,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_order_count
    from {{ ref('customer_orders') }}
    group by customer_id
),

consents as (
    select customer_id, purpose, granted, recorded_at
    from (
        select
            tuple_customers.customer_id,
            consents.purpose,
            consents.granted,
            consents.recorded_at,
            row_number() over (
                partition by tuple_customers.customer_id, consents.purpose
                order by consents.recorded_at desc, case when consents.granted then 1 else 0 end
            ) as rn
        from {{ ref('stg_raw__consents') }} as consents
        inner join {{ ref('int_identity_tuple_customers') }} as tuple_customers
            on tuple_customers.tuple_key = {{ cdpkit_identity_tuple_key('consents', 'consents') }}
    ) as ranked
    where rn = 1
),

{#- One row per customer with its latest record of each purpose (one join instead of one per
    purpose; every (customer, purpose) has at most one row above, so the aggregates pick it). -#}
consent_by_purpose as (
    select
        customer_id
        {%- for purpose in ['marketing', 'advertising', 'analytics'] %},
        bool_or(case when purpose = {{ cdpkit_sql_string(purpose) }} then granted end) as {{ purpose }}_granted,
        max(case when purpose = {{ cdpkit_sql_string(purpose) }} then recorded_at end) as {{ purpose }}_at
        {%- endfor %}
    from consents
    group by customer_id
)

select
    per_customer.customer_id,
    best_email.email,
    best_phone.phone,
    crm.first_name,
    crm.last_name,
    crm.city,
    crm.country,
    per_customer.first_seen_at,
    per_customer.last_seen_at,
    per_customer.known_identifier_count = 0 as is_anonymous,
    coalesce(
        crm.lifecycle_stage,
        case
            when coalesce(orders.order_count, 0) > 0 then 'customer'
            when per_customer.known_identifier_count > 0 then 'lead'
            else 'visitor'
        end
    ) as lifecycle_stage,
    case when crm.lifecycle_stage is not null then 'crm' else 'derived' end as lifecycle_stage_source,
    coalesce(orders.order_count, 0) as order_count,
    coalesce(orders.total_revenue, 0) as total_revenue,
    orders.first_order_at,
    orders.last_order_at,
    coalesce(orders.refunded_order_count, 0) as refunded_order_count,
    coalesce(orders.cancelled_order_count, 0) as cancelled_order_count,
    {%- for purpose in ['marketing', 'advertising', 'analytics'] %}
    coalesce(consent_by_purpose.{{ purpose }}_granted, false) as consent_{{ purpose }},
    consent_by_purpose.{{ purpose }}_at as consent_{{ purpose }}_at,
    {%- endfor %}
    per_customer.identifier_count
from per_customer
left join best_email on best_email.customer_id = per_customer.customer_id
left join best_phone on best_phone.customer_id = per_customer.customer_id
left join crm on crm.customer_id = per_customer.customer_id
left join orders on orders.customer_id = per_customer.customer_id
left join consent_by_purpose on consent_by_purpose.customer_id = per_customer.customer_id
