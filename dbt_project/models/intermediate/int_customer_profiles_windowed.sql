{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='profile_date') }}

-- A customer's spending profile as of each day they transacted: the median amount over
-- the trailing 30 days (that day included), the baseline for spotting unusual amounts.

with

transactions as (

    select * from {{ ref('int_card_transactions_deduplicated') }}
    where transaction_date >= {{ window_start(lookback_days=29) }}
        and transaction_date < {{ window_end() }}

),

daily as (

    select
        customer_id,
        transaction_date as profile_date,
        min(region) as home_region,
        list(amount_cents) as amounts

    from transactions
    group by customer_id, transaction_date

),

windowed as (

    select
        customer_id,
        profile_date,
        home_region,
        flatten(list(amounts) over (
            partition by customer_id
            order by profile_date
            range between interval 29 days preceding and current row
        )) as amounts_30d

    from daily

),

final as (

    select
        customer_id,
        profile_date,
        home_region,
        len(amounts_30d) as transactions_30d,
        list_median(amounts_30d) as median_amount_cents_30d

    from windowed
    where profile_date >= {{ window_start() }}

)

select * from final
