with source as (
    select * from {{ source('raw', 'orders') }}
)

select
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(phone as {{ dbt.type_string() }}) as phone,
    cast(loyalty_id as {{ dbt.type_string() }}) as loyalty_id,
    lower(trim(cast(channel as {{ dbt.type_string() }}))) as channel,
    nullif(trim(cast(store_id as {{ dbt.type_string() }})), '') as store_id,
    cast(total_amount as {{ dbt.type_numeric() }}) as total_amount,
    upper(trim(cast(currency as {{ dbt.type_string() }}))) as currency,
    lower(trim(cast(status as {{ dbt.type_string() }}))) as status,
    cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at
from source
