{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='transaction_date') }}

with

transactions as (

    select * from {{ ref('int_card_transactions_deduplicated') }}
    where transaction_date >= {{ window_start() }} and transaction_date < {{ window_end() }}

),

profiles as (

    select * from {{ ref('int_customer_profiles_windowed') }}
    where profile_date >= {{ window_start() }} and profile_date < {{ window_end() }}

),

joined as (

    select
        transactions.*,
        card_region <> ip_region as is_geo_mismatch,
        amount_cents / nullif(profiles.median_amount_cents_30d, 0) as amount_vs_customer_median

    from transactions
    left join profiles
        on transactions.customer_id = profiles.customer_id
        and transactions.transaction_date = profiles.profile_date

),

final as (

    select
        *,
        -- Half the score from a card used outside its region, half from how far the amount
        -- exceeds the customer's median (5x the median or more counts fully).
        least(1.0,
            0.5 * cast(is_geo_mismatch as double)
            + 0.5 * least(1.0, greatest(0.0, coalesce(amount_vs_customer_median, 1.0) - 1.0) / 4.0)
        ) as risk_score

    from joined

)

select * from final
