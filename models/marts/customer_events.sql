{#- One row per event attributed to a customer: the customer of the event's strongest
    identifier. Events whose identifiers are all junk, invalid or over-linked cannot be
    attributed and are left out (counted in identity_blocked_links by identifier).
    A view: copying every event (the largest table by far) would dominate the build; the join
    to the small per-tuple mapping is one hash join on a 64-bit key, and filters on event
    columns are pushed below it.
    Email engagement (raw email_events) is included as track events named `email_<type>`
    (email_opened, email_clicked, …) with source `email`, so audiences can use it. -#}
{{ config(materialized='view') }}

select
    events.event_id,
    tuple_customers.customer_id,
    events.event_type,
    events.event_name,
    events.occurred_at,
    events.source,
    events.page_path,
    events.page_url,
    events.referrer,
    events.utm_source,
    events.utm_medium,
    events.utm_campaign,
    events.properties
from {{ ref('stg_raw__events') }} as events
inner join {{ ref('int_identity_tuple_customers') }} as tuple_customers
    on tuple_customers.tuple_key = {{ cdpkit_identity_tuple_key('events', 'events') }}

union all

select
    {{ dbt.concat(["'email_'", "md5(" ~ dbt.concat([
        "coalesce(email_events.email, '')", "'|'", "email_events.event_type", "'|'",
        "coalesce(email_events.campaign_id, '')", "'|'",
        dbt.cast("email_events.occurred_at", dbt.type_string())]) ~ ")"]) }} as event_id,
    tuple_customers.customer_id,
    'track' as event_type,
    {{ dbt.concat(["'email_'", "email_events.event_type"]) }} as event_name,
    email_events.occurred_at,
    'email' as source,
    cast(null as {{ dbt.type_string() }}) as page_path,
    cast(null as {{ dbt.type_string() }}) as page_url,
    cast(null as {{ dbt.type_string() }}) as referrer,
    cast(null as {{ dbt.type_string() }}) as utm_source,
    cast(null as {{ dbt.type_string() }}) as utm_medium,
    cast(null as {{ dbt.type_string() }}) as utm_campaign,
    {{ cdpkit_json_object({'campaign_id': 'email_events.campaign_id'}) }} as properties
from (select distinct * from {{ ref('stg_raw__email_events') }}) as email_events
inner join {{ ref('int_identity_tuple_customers') }} as tuple_customers
    on tuple_customers.tuple_key = {{ cdpkit_identity_tuple_key('email_events', 'email_events') }}
