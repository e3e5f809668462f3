with

source as (

    select * from {{ source('landing', 'behavior_events') }}

),

renamed as (

    select
        event_id,
        event_type,
        customer_id,
        region,
        cast(event_at as timestamptz) as event_at,
        cast(event_date as date) as event_date,
        session_id,
        device_id,
        category,
        product_sku,
        search_query,
        cast(quantity as integer) as quantity,
        cast(price_cents as bigint) as price_cents,
        cast(items as integer) as items,
        cast(cart_value_cents as bigint) as cart_value_cents,
        order_id,
        cast(amount_cents as bigint) as amount_cents

    from source

)

select * from renamed
