{#- One row per event attributed to a customer: the customer of the event's strongest
    identifier. Events whose identifiers are all junk, invalid or over-linked cannot be
    attributed and are left out (counted in identity_blocked_links by identifier).
    A view: copying every event (the largest table by far) would dominate the build; the join
    to the small per-tuple mapping is one hash join on a 64-bit key, and filters on event
    columns are pushed below it. -#}
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
