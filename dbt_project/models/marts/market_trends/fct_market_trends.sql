{{ config(unique_key='activity_date') }}

with

category_days as (

    -- A week before the window too, for the trailing revenue mean: those days were built
    -- by earlier runs (or by this one, when the window covers them).
    select * from {{ ref('int_category_days_aggregated') }}
    where activity_date >= {{ window_start(lookback_days=7) }}
        and activity_date < {{ window_end() }}

),

with_trailing as (

    select
        *,
        -- Days without a row had no revenue, so the mean is over 7 days, not over rows.
        coalesce(sum(revenue_cents) over (
            partition by region, category
            order by activity_date
            range between interval 7 days preceding and interval 1 day preceding
        ), 0) / 7.0 as trailing_7d_mean_revenue_cents

    from category_days

),

final as (

    select
        region || '/' || category || '@' || strftime(activity_date, '%Y-%m-%d') as trend_id,
        region,
        category,
        activity_date,
        cast(page_views as bigint) as page_views,
        cast(purchases as bigint) as purchases,
        cast(revenue_cents as bigint) as revenue_cents,
        purchases / nullif(page_views, 0) as conversion_rate,
        revenue_cents / nullif(trailing_7d_mean_revenue_cents, 0) - 1 as revenue_growth_7d

    from with_trailing
    where activity_date >= {{ window_start() }}

)

select * from final
