{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='activity_date') }}

with

behavior_events as (

    select * from {{ ref('int_behavior_events_deduplicated') }}
    where event_date >= {{ window_start() }} and event_date < {{ window_end() }}

),

sessions as (

    select
        customer_id,
        session_id,
        event_date as activity_date,
        min(region) as region,
        min(event_at) as session_started_at,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'search') as searches,
        cast(coalesce(sum(quantity) filter (where event_type = 'add_to_cart'), 0) as bigint) as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        cast(coalesce(sum(amount_cents) filter (where event_type = 'purchase'), 0) as bigint) as spend_cents

    from behavior_events
    group by customer_id, session_id, event_date

),

final as (

    select
        *,
        purchases > 0 as has_purchase

    from sessions

)

select * from final
