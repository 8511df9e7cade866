with source as (
    select * from {{ source('raw', 'order_items') }}
)

select
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    trim(cast(sku as {{ dbt.type_string() }})) as sku,
    cast(product_name as {{ dbt.type_string() }}) as product_name,
    lower(trim(cast(category as {{ dbt.type_string() }}))) as category,
    cast(quantity as {{ dbt.type_int() }}) as quantity,
    cast(unit_price as {{ dbt.type_numeric() }}) as unit_price,
    cast(quantity as {{ dbt.type_int() }}) * cast(unit_price as {{ dbt.type_numeric() }}) as line_amount
from source
