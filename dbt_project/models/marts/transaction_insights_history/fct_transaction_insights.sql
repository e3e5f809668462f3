{{ config(unique_key='transaction_date') }}

with

transactions as (

    select * from {{ ref('int_transactions_enriched') }}
    where transaction_date >= {{ window_start() }} and transaction_date < {{ window_end() }}

),

final as (

    select
        transaction_id,
        customer_id,
        region,
        transaction_date,
        transacted_at,
        amount_cents,
        merchant_category,
        card_region,
        is_geo_mismatch,
        cast(amount_vs_customer_median as double) as amount_vs_customer_median,
        cast(risk_score as double) as risk_score,
        coalesce(is_labelled_fraud, false) as is_confirmed_fraud

    from transactions

)

select * from final
