{#- One row per order attributed to a customer (the customer of the order's strongest
    identifier), with its items. net_amount counts completed orders only: refunded and
    cancelled orders contribute 0. -#}

with items as (
    select order_id, sum(quantity) as item_count, count(*) as line_count
    from {{ ref('stg_raw__order_items') }}
    group by order_id
)

select
    orders.order_id,
    tuple_customers.customer_id,
    orders.channel,
    orders.store_id,
    orders.total_amount,
    case when orders.status = 'completed' then orders.total_amount else 0 end as net_amount,
    orders.currency,
    orders.status,
    orders.ordered_at,
    coalesce(items.item_count, 0) as item_count,
    coalesce(items.line_count, 0) as line_count
from {{ ref('stg_raw__orders') }} as orders
inner join {{ ref('int_identity_tuple_customers') }} as tuple_customers
    on tuple_customers.tuple_key = {{ cdpkit_identity_tuple_key('orders', 'orders') }}
left join items on items.order_id = orders.order_id
