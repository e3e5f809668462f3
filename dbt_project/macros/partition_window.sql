{# The daily partition window Dagster asks for, as date literals: [start, end).

   The window comes from TOLLGATE_WINDOW_START / _END (ISO dates), read only when dbt executes:
   dbt hashes every --vars value into its partial-parse state, so a per-run window passed as
   --vars made each run re-parse the whole project. Parsing only captures refs, and sees the
   widest window. #}
{% macro window_date(name, default) -%}
    {%- set value = env_var(name, default) if execute else default -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be an ISO date, got: " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro window_start(lookback_days=0) -%}
    ({{ window_date('TOLLGATE_WINDOW_START', '2000-01-01') }} - {{ lookback_days | int }} * interval 1 day)
{%- endmacro %}

{% macro window_end() -%}
    {{ window_date('TOLLGATE_WINDOW_END', '2100-01-01') }}
{%- endmacro %}
