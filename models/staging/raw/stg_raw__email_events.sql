with source as (
    select * from {{ source('raw', 'email_events') }}
)

select
    cast(email as {{ dbt.type_string() }}) as email,
    lower(trim(cast(event_type as {{ dbt.type_string() }}))) as event_type,
    nullif(trim(cast(campaign_id as {{ dbt.type_string() }})), '') as campaign_id,
    cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at
from source
