with source as (
    select * from {{ source('raw', 'events') }}
)

select
    cast(event_id as {{ dbt.type_string() }}) as event_id,
    lower(trim(cast(event_type as {{ dbt.type_string() }}))) as event_type,
    nullif(trim(cast(event_name as {{ dbt.type_string() }})), '') as event_name,
    cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(phone as {{ dbt.type_string() }}) as phone,
    cast(device_id as {{ dbt.type_string() }}) as device_id,
    cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
    lower(trim(cast(source as {{ dbt.type_string() }}))) as source,
    nullif(trim(cast(page_path as {{ dbt.type_string() }})), '') as page_path,
    nullif(trim(cast(page_url as {{ dbt.type_string() }})), '') as page_url,
    nullif(trim(cast(referrer as {{ dbt.type_string() }})), '') as referrer,
    nullif(trim(cast(utm_source as {{ dbt.type_string() }})), '') as utm_source,
    nullif(trim(cast(utm_medium as {{ dbt.type_string() }})), '') as utm_medium,
    nullif(trim(cast(utm_campaign as {{ dbt.type_string() }})), '') as utm_campaign,
    cast(properties as {{ dbt.type_string() }}) as properties
from source
