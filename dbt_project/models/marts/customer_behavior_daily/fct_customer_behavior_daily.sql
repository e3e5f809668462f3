{{ config(unique_key='activity_date') }}

with

sessions as (

    select * from {{ ref('int_sessions_summarized') }}
    where activity_date >= {{ window_start() }} and activity_date < {{ window_end() }}

),

customer_days as (

    select
        customer_id,
        activity_date,
        min(region) as region,
        count(*) as sessions,
        sum(page_views) as page_views,
        sum(searches) as searches,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(spend_cents) as spend_cents,
        count(*) filter (where has_purchase) as sessions_with_purchase

    from sessions
    group by customer_id, activity_date

),

final as (

    select
        customer_id || '@' || strftime(activity_date, '%Y-%m-%d') as customer_day_id,
        customer_id,
        activity_date,
        region,
        cast(sessions as bigint) as sessions,
        cast(page_views as bigint) as page_views,
        cast(searches as bigint) as searches,
        cast(add_to_carts as bigint) as add_to_carts,
        cast(purchases as bigint) as purchases,
        cast(spend_cents as bigint) as spend_cents,
        sessions_with_purchase / sessions as conversion_rate

    from customer_days

)

select * from final
